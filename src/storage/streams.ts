/** Stream plumbing for the byte engine. Nothing here buffers more than one read's worth of bytes. */

/**
 * Hands out consecutive exact-length slices of one byte stream. Each slice must be read to its
 * end before the next is taken; a slice errors if the source ends before its length is reached.
 */
export class ByteSlicer {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #pending: Uint8Array | null = null;

  constructor(source: ReadableStream<Uint8Array>) {
    this.#reader = source.getReader();
  }

  take(length: number): ReadableStream<Uint8Array> {
    let remaining = length;
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (remaining === 0) return controller.close();
        let bytes = this.#pending;
        this.#pending = null;
        if (!bytes) {
          const read = await this.#reader.read().catch((cause: unknown) => {
            throw new BodyReadError(cause);
          });
          if (read.done) return controller.error(new BodyTooShortError());
          bytes = read.value;
        }
        if (bytes.byteLength > remaining) {
          this.#pending = bytes.subarray(remaining);
          bytes = bytes.subarray(0, remaining);
        }
        remaining -= bytes.byteLength;
        controller.enqueue(bytes);
        if (remaining === 0) controller.close();
      },
      cancel: (reason) => this.#reader.cancel(reason),
    });
  }

  cancel(reason?: unknown): Promise<void> {
    return this.#reader.cancel(reason);
  }
}

/** The body ended before the length its headers declared. */
export class BodyTooShortError extends Error {
  constructor() {
    super("request body ended before the declared length");
  }
}

/** Reading the body failed: the client went away or the connection broke. */
export class BodyReadError extends Error {
  constructor(cause: unknown) {
    super(`reading the request body failed: ${String(cause)}`, { cause });
  }
}

/**
 * Streams `sources` one after another into a stream of exactly `length` bytes, which R2 needs
 * for `put` and `uploadPart`. Returns that stream and a promise for the copying itself.
 */
export function concatFixedLength(
  length: number,
  sources: Array<() => Promise<ReadableStream<Uint8Array>>>,
): { readable: ReadableStream<Uint8Array>; copied: Promise<void> } {
  const { readable, writable } = new FixedLengthStream(length);
  const copied = (async () => {
    for (const [i, open] of sources.entries()) {
      const source = await open();
      await source.pipeTo(writable, { preventClose: i < sources.length - 1 });
    }
  })();
  copied.catch((reason) => writable.abort(reason).catch(() => {}));
  return { readable, copied };
}
