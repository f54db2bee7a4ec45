/**
 * Cross-site requests: another site's page cannot make an organiser's browser change anything
 * through the admin API, or open its live channel, whatever credential the browser carries.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { accessJwt, adminRouteTable, routeUrl, serveAccessKeys } from "./admin-helpers";
import { call, createEvent } from "./helpers";

serveAccessKeys();

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
const ownOrigin = "https://photos.test";
const dashboardOrigin = env.DASHBOARD_ORIGINS;

async function newToken(eventIds?: string[]) {
  const response = await call("/api/v1/admin/tokens", {
    method: "POST",
    headers: { ...bootstrap, "content-type": "application/json" },
    body: JSON.stringify({ name: "script", event_ids: eventIds }),
  });
  expect(response.status).toBe(201);
  return response.json<{ id: string; token: string }>();
}

/** What a request carries: its status and error code (a WebSocket it opened is closed at once). */
async function outcome(response: Response): Promise<string> {
  if (response.webSocket) {
    response.webSocket.accept();
    response.webSocket.close(1000, "test");
    return "101";
  }
  const text = await response.text();
  const code = text.startsWith("{") ? (JSON.parse(text) as { error?: { code: string } }).error?.code : undefined;
  return `${response.status} ${code ?? ""}`.trim();
}

const refused = "403 origin_not_allowed";

/** Where a browser always sends Origin (any non-GET fetch, any WebSocket), it is missing here. */
const foreign: Array<[string, Record<string, string>]> = [
  ["a foreign Origin", { origin: "https://evil.example" }],
  ["a sibling subdomain's Origin", { origin: "https://evil.photos.test" }],
  ["the own host over http", { origin: "http://photos.test" }],
  ["Origin: null (sandboxed frame, cross-site redirect)", { origin: "null" }],
  ["no Origin, cross-site fetch metadata", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }],
  ["no Origin, same-site fetch metadata", { "sec-fetch-site": "same-site", "sec-fetch-mode": "navigate" }],
];
const allowed: Array<[string, Record<string, string>]> = [
  ["the service's own Origin", { origin: ownOrigin, "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" }],
  ["a DASHBOARD_ORIGINS Origin", { origin: dashboardOrigin, "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" }],
  ["no Origin, same-origin fetch metadata", { "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors" }],
  ["a script: no Origin, no fetch metadata", {}],
  ["Node's fetch: no Origin, Sec-Fetch-Mode alone", { "sec-fetch-mode": "cors" }],
];

describe("every admin route, from every origin, with every kind of credential", () => {
  it("the route table is what the test walks", () => {
    expect(adminRouteTable.length).toBeGreaterThanOrEqual(23);
  });

  // State-changing routes as they are; GET routes as WebSocket upgrades (a plain GET changes nothing).
  it.each(adminRouteTable)("$method $path", async ({ method, path }) => {
    const event = await createEvent();
    const link = await (
      await call(`/api/v1/admin/events/${event.event_id}/join-links`, { method: "POST", headers: { ...bootstrap, "content-type": "application/json" }, body: "{}" })
    ).json<{ id: string }>();
    const target = await newToken();
    const url = routeUrl(path, { eventId: event.event_id, linkId: link.id, tokenId: target.id });
    const credentials: Array<[string, Record<string, string>]> = [
      ["no credential", {}],
      ["the bootstrap token", bootstrap],
      ["a global admin token", { authorization: `Bearer ${(await newToken()).token}` }],
      ["a token scoped to the event", { authorization: `Bearer ${(await newToken([event.event_id])).token}` }],
      ["an Access JWT", { "cf-access-jwt-assertion": await accessJwt() }],
    ];
    const request = (headers: Record<string, string>) =>
      call(url, {
        method,
        headers: { ...headers, ...(method === "GET" ? { upgrade: "websocket" } : { "content-type": "application/json" }) },
        ...(method === "GET" ? {} : { body: "{}" }),
      });
    for (const [credential, credentialHeaders] of credentials) {
      for (const [from, originHeaders] of foreign) {
        expect(await outcome(await request({ ...credentialHeaders, ...originHeaders })), `${credential}, ${from}`).toBe(refused);
      }
      for (const [from, originHeaders] of allowed) {
        expect(await outcome(await request({ ...credentialHeaders, ...originHeaders })), `${credential}, ${from}`).not.toBe(refused);
      }
    }
    // Not refused for its origin: without a credential it is refused for that instead.
    expect(await outcome(await request({ origin: ownOrigin }))).toBe("401 unauthorized");
  });

  it("a plain GET from another site is not refused (it changes nothing, and CORS keeps its answer from that site)", async () => {
    const response = await call("/api/v1/admin/events", { headers: { ...bootstrap, origin: "https://evil.example", "sec-fetch-site": "cross-site" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("nothing changed when another site tried: the event stays open", async () => {
    const event = await createEvent();
    for (const headers of [bootstrap, { "cf-access-jwt-assertion": await accessJwt() }]) {
      const archive = await call(`/api/v1/admin/events/${event.event_id}/archive`, {
        method: "POST",
        headers: { ...headers, origin: "https://evil.example", "content-type": "text/plain" },
        body: "{}",
      });
      expect(await outcome(archive)).toBe(refused);
    }
    const { status } = (await env.DB.prepare("SELECT status FROM events WHERE id = ?").bind(event.event_id).first<{ status: string }>())!;
    expect(status).toBe("open");
  });

  it("CORS preflights are answered for DASHBOARD_ORIGINS only", async () => {
    const preflight = (origin: string) =>
      call("/api/v1/admin/events", {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    const ok = await preflight(dashboardOrigin);
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(dashboardOrigin);
    expect(ok.headers.get("access-control-allow-credentials")).toBe("true");
    expect((await preflight("https://evil.example")).headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("admin request bodies", () => {
  const stateChanging = adminRouteTable.filter((route) => route.method !== "GET");

  it.each(stateChanging)("$method $path takes JSON only", async ({ method, path }) => {
    const event = await createEvent();
    const url = routeUrl(path, { eventId: event.event_id, linkId: crypto.randomUUID(), tokenId: crypto.randomUUID() });
    const multipart = new FormData();
    multipart.append("name", "x");
    const forms: Array<[string, RequestInit]> = [
      ["text/plain", { headers: { "content-type": "text/plain" }, body: "{}" }],
      ["a form", { headers: { "content-type": "application/x-www-form-urlencoded" }, body: "name=x" }],
      ["multipart", { body: multipart }],
      ["no type", { body: new TextEncoder().encode("{}") }],
      ["a JSON-like type", { headers: { "content-type": "application/json-seq" }, body: "{}" }],
    ];
    for (const [what, init] of forms) {
      const response = await call(url, { ...init, method, headers: { ...bootstrap, origin: ownOrigin, ...init.headers } });
      expect(await outcome(response), what).toBe("415 unsupported_media_type");
    }
    const json = await call(url, { method, headers: { ...bootstrap, origin: ownOrigin, "content-type": "application/json; charset=UTF-8" }, body: "{}" });
    expect(await outcome(json)).not.toMatch(/^415/);
    // The one JSON test the guest routes use too: a structured-syntax +json type is JSON.
    const suffixed = await call(url, { method, headers: { ...bootstrap, origin: ownOrigin, "content-type": "application/merge-patch+json" }, body: "{}" });
    expect(await outcome(suffixed)).not.toMatch(/^415/);
  });

  it("body-less POSTs need no type (archiving, a live ticket, a ZIP link)", async () => {
    const event = await createEvent();
    for (const action of ["live", "download", "archive"]) {
      const response = await call(`/api/v1/admin/events/${event.event_id}/${action}`, { method: "POST", headers: { ...bootstrap, origin: ownOrigin } });
      expect(response.status, action).toBe(200);
    }
  });
});
