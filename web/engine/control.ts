/**
 * Flow-control primitives of the engine: a Gate that holds work while paused or offline, a
 * Trigger that wakes sleepers, and signal linking. Written out rather than taken from
 * AbortSignal.any / Promise.withResolvers, which phones a few years old do not have.
 */

export interface LinkedSignal {
  /** Aborts when any of the linked signals does. */
  signal: AbortSignal;
  /** Detaches from the inputs; call it when the work is over, so long-lived inputs gather no listeners. */
  unlink(): void;
}

export function linkSignals(signals: AbortSignal[]): LinkedSignal {
  const controller = new AbortController();
  const detach = new AbortController();
  for (const input of signals) {
    if (input.aborted) {
      controller.abort(input.reason);
      break;
    }
    input.addEventListener("abort", () => controller.abort(input.reason), { once: true, signal: detach.signal });
  }
  return { signal: controller.signal, unlink: () => detach.abort() };
}

/** Wakes everyone waiting on it, once per `fire()`. */
export class Trigger {
  private controller = new AbortController();

  /** Aborts at the next `fire()`. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  fire(): void {
    const fired = this.controller;
    this.controller = new AbortController();
    fired.abort();
  }
}

/** Why the engine is holding its work. */
export type PauseReason = "user" | "offline";

/**
 * Open unless something paused it. Work passes the gate before each request and gets a signal
 * that aborts when the gate next closes, so pausing stops the requests in flight at once.
 */
export class Gate {
  private readonly reasons = new Set<PauseReason>();
  private readonly closed = new Trigger();
  private readonly opened = new Trigger();

  /** The user's pause shows before being offline: it is the one that needs a tap to undo. */
  get pausedBy(): PauseReason | null {
    if (this.reasons.has("user")) return "user";
    return this.reasons.has("offline") ? "offline" : null;
  }

  close(reason: PauseReason): void {
    const wasOpen = this.reasons.size === 0;
    this.reasons.add(reason);
    if (wasOpen) this.closed.fire();
  }

  open(reason: PauseReason): void {
    if (this.reasons.delete(reason) && this.reasons.size === 0) this.opened.fire();
  }

  /**
   * Waits while the gate is closed (or until `until` aborts), then returns a signal that aborts
   * when the gate closes again.
   */
  async pass(until: AbortSignal): Promise<AbortSignal> {
    while (this.reasons.size > 0 && !until.aborted) {
      const wake = linkSignals([this.opened.signal, until]);
      await whenAborted(wake.signal);
      wake.unlink();
    }
    return this.closed.signal;
  }
}

/** Resolves once `signal` aborts (at once if it has). */
export function whenAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** True for the error fetch (or anything honouring a signal) throws when its signal aborts. */
export function isAbort(error: unknown): boolean {
  return (error as { name?: unknown } | null)?.name === "AbortError";
}
