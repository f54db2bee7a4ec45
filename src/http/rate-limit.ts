import { ApiError } from "../core/errors";
import type { AppContext } from "./context";

/** Seconds a refused client should wait: the limiters count over one minute. */
const RETRY_AFTER_SECONDS = 60;

/**
 * Counts a guest call against the per-IP limiter and, under `clientKey` (a device for creates,
 * an upload for chunks), the per-client one; refuses with 429 `rate_limited` when either is spent.
 */
export async function enforceGuestRateLimits(c: AppContext, clientKey: string): Promise<void> {
  const ip = c.req.header("cf-connecting-ip") ?? "unknown";
  const [byIp, byClient] = await Promise.all([
    c.env.GUEST_IP_LIMITER.limit({ key: `ip:${ip}` }),
    c.env.GUEST_CLIENT_LIMITER.limit({ key: clientKey }),
  ]);
  if (!byIp.success || !byClient.success) {
    throw new ApiError({
      status: 429,
      code: "rate_limited",
      message: `Too many requests; try again in ${RETRY_AFTER_SECONDS} seconds.`,
      headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
    });
  }
}
