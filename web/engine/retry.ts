/**
 * Retrying calls the way every part of the engine does: hold at the gate while paused or
 * offline (those failures are not counted), back off after a transient failure, wake early
 * when the connection comes back, give up on anything else.
 */
import { ApiFailure } from "./api.ts";
import { retryDelay, type RetryPolicy } from "./backoff.ts";
import type { Clock } from "./clock.ts";
import { isAbort, linkSignals, type Gate, type Trigger } from "./control.ts";
import { classify } from "./failures.ts";

export interface RetryTools {
  clock: Clock;
  random: () => number;
  policy: RetryPolicy;
  gate: Gate;
  /** Fires when the host says the connection is back: waiting out a backoff would only lose time. */
  reconnected: Trigger;
}

/** Consecutive transient failures of one piece of work, and the waits between them. */
export class Retries {
  private failures = 0;
  private readonly tools: RetryTools;

  constructor(tools: RetryTools) {
    this.tools = tools;
  }

  /** Progress was made: the next failure starts the backoff over. */
  reset(): void {
    this.failures = 0;
  }

  /** Counts a failure; the time of the next attempt, or null once the policy's attempts are spent. */
  schedule(retryAfterMs: number | null): number | null {
    const { clock, random, policy } = this.tools;
    this.failures += 1;
    if (this.failures >= policy.maxAttempts) return null;
    return clock.now() + retryDelay(policy, this.failures - 1, random, retryAfterMs);
  }

  /** Sleeps until `at`; the connection coming back, or `signal`, cuts it short. */
  async sleepUntil(at: number, signal: AbortSignal): Promise<void> {
    const wake = linkSignals([signal, this.tools.reconnected.signal]);
    await this.tools.clock.sleep(Math.max(0, at - this.tools.clock.now()), wake.signal);
    wake.unlink();
  }
}

/**
 * Runs `call` until it succeeds, retrying transient failures; other failures (and an abort of
 * `signal`) are thrown. `onRetry` learns when the next attempt is due and why.
 */
export async function withRetries<T>(
  tools: RetryTools,
  signal: AbortSignal,
  call: (signal: AbortSignal) => Promise<T>,
  onRetry: (at: number, failure: ApiFailure) => void = () => {},
): Promise<T> {
  const retries = new Retries(tools);
  for (;;) {
    const closed = await tools.gate.pass(signal);
    signal.throwIfAborted();
    const attempt = linkSignals([signal, closed]);
    try {
      return await call(attempt.signal);
    } catch (error) {
      // Aborted by the gate closing: wait at the gate, uncounted. By `signal`: thrown above.
      if (isAbort(error)) continue;
      if (!(error instanceof ApiFailure) || classify(error).kind !== "retry") throw error;
      const at = retries.schedule(error.retryAfterMs);
      if (at === null) throw error;
      onRetry(at, error);
      await retries.sleepUntil(at, signal);
    } finally {
      attempt.unlink();
    }
  }
}
