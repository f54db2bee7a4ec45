/**
 * Cross-site request forgery defences for the admin API and the live channel. In production the
 * admin API sits behind Cloudflare Access, whose cookie must be `SameSite=None` for a dashboard on
 * Pages: the browser attaches it to requests any site makes. So a request that changes state, and
 * every WebSocket upgrade, must come from the service's own origin or a DASHBOARD_ORIGINS one —
 * whatever credential it carries (a bearer token is no exception, so the rule has no gaps).
 *
 * The rule (OWASP's, with Fetch Metadata as the fallback):
 *   - `Origin` present: it must be the request URL's origin or one in DASHBOARD_ORIGINS
 *     (`Origin: null`, from sandboxed frames and cross-site redirects, never is);
 *   - `Origin` absent: a browser sends it on every non-GET fetch and every WebSocket upgrade, and
 *     every browser with Fetch Metadata sends `Sec-Fetch-Site`, so a request with `Sec-Fetch-Site`
 *     is refused unless it is `same-origin` or `none`; one without it is not from a browser
 *     (curl, scripts, the CLI; Node's fetch sends `Sec-Fetch-Mode` alone) and goes on to
 *     authentication.
 */
import type { MiddlewareHandler } from "hono";
import { ApiError, refusals } from "../core/errors";
import { isWebSocketUpgrade } from "../live/event-hub";
import type { AppEnv } from "./context";
import { hasBody, isJsonRequest } from "./validation";

/** The origins in DASHBOARD_ORIGINS (comma-separated). */
export function dashboardOrigins(env: Pick<Env, "DASHBOARD_ORIGINS">): Set<string> {
  return new Set(env.DASHBOARD_ORIGINS.split(",").map((origin) => origin.trim()).filter(Boolean));
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether a browser could have been made to send this request by another site. */
export function isCrossSite(request: Request, allowedOrigins: Set<string>): boolean {
  const origin = request.headers.get("origin");
  if (origin !== null) return origin !== new URL(request.url).origin && !allowedOrigins.has(origin);
  const site = request.headers.get("sec-fetch-site");
  return site !== null && site !== "same-origin" && site !== "none";
}

/** Refuses state-changing requests and WebSocket upgrades from other sites (403 origin_not_allowed). */
export const sameSiteOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  const request = c.req.raw;
  const checked = !SAFE_METHODS.has(request.method) || isWebSocketUpgrade(request);
  if (checked && isCrossSite(request, dashboardOrigins(c.env))) {
    throw new ApiError(refusals.originNotAllowed());
  }
  await next();
};

/**
 * State-changing admin requests with a body must send it as JSON (`application/json` or a `+json`
 * type, parameters such as charset allowed): a cross-site form can only send text/plain,
 * urlencoded or multipart.
 * Body-less POSTs and DELETEs (archive, live ticket) need no type.
 */
export const jsonBodiesOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  const request = c.req.raw;
  if (!SAFE_METHODS.has(request.method) && hasBody(request)) {
    if (!isJsonRequest(request)) throw new ApiError(refusals.jsonRequired());
  }
  await next();
};
