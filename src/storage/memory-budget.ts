/**
 * An isolate-wide budget for request bytes held in memory. A Worker isolate has 128 MB shared by
 * all its concurrent requests; the byte engine buffers a chunk's tail (the bytes that stay inside
 * a part, ≤ one part) before handing it to the session, and reads a stored tail back when a part
 * fills. Buffering a body waits for room (backpressure: the body is not read meanwhile) and gives
 * up after a while; reading a stored tail back never waits (it is needed to make progress, is at
 * most one part, and frees its bytes as soon as the part is written), but counts.
 */
import { ApiError, refusals } from "../core/errors";

const MiB = 1024 * 1024;

/** Bytes of request bodies and stored tails an isolate holds at most (before read-backs overdraw it). */
export const BODY_BUFFER_BUDGET = 48 * MiB;
/** How long a body waits for room in the budget before its request is refused with 503. */
export const BODY_BUFFER_WAIT_MS = 15_000;

export class MemoryBudget {
  #free: number;
  readonly #waiting: Array<{ bytes: number; grant: () => void }> = [];

  constructor(readonly capacity: number) {
    this.#free = capacity;
  }

  get free(): number {
    return this.#free;
  }

  /** Waits (first come, first served) until `bytes` fit, then holds them; refuses with 503 after `waitMs`. */
  async reserve(bytes: number, waitMs = BODY_BUFFER_WAIT_MS): Promise<Held> {
    const wanted = Math.min(bytes, this.capacity);
    if (this.#waiting.length === 0 && this.#free >= wanted) return this.overdraw(wanted);
    await new Promise<void>((resolve, reject) => {
      const waiter = { bytes: wanted, grant: () => (clearTimeout(timer), resolve()) };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        this.#wake();
        reject(new ApiError(refusals.serverBusy()));
      }, waitMs);
      this.#waiting.push(waiter);
    });
    return this.#held(wanted);
  }

  /** Holds `bytes` at once, even past the budget (for bytes that must be read to make progress). */
  overdraw(bytes: number): Held {
    this.#free -= bytes;
    return this.#held(bytes);
  }

  /** Bytes already subtracted from the budget, given back once. */
  #held(bytes: number): Held {
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.#free += bytes;
        this.#wake();
      },
    };
  }

  /** Grants waiting reservations in order while they fit. */
  #wake(): void {
    while (this.#waiting.length && this.#free >= this.#waiting[0]!.bytes) {
      const next = this.#waiting.shift()!;
      this.#free -= next.bytes;
      next.grant();
    }
  }
}

export interface Held {
  release(): void;
}

/** The budget of this isolate. */
export const bodyBuffers = new MemoryBudget(BODY_BUFFER_BUDGET);
