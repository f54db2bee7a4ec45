/**
 * When to try again: exponential backoff with full jitter (a random delay between zero and the
 * exponential ceiling, so a hundred phones that lost the same Wi-Fi do not come back in step),
 * never sooner than the server's Retry-After.
 */
export interface RetryPolicy {
  /** The ceiling of the first retry's delay. */
  baseDelayMs: number;
  /** The ceiling never grows past this (Retry-After may still ask for longer). */
  maxDelayMs: number;
  /** Consecutive failures without progress before a file fails; Infinity keeps retrying. */
  maxAttempts: number;
}

export const defaultRetryPolicy: RetryPolicy = { baseDelayMs: 500, maxDelayMs: 30_000, maxAttempts: Infinity };

/** The delay before retry number `attempt` (0 for the first); `random` returns [0, 1). */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number, retryAfterMs: number | null): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.max(Math.floor(random() * ceiling), retryAfterMs ?? 0);
}

/** Milliseconds a Retry-After header asks for (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
