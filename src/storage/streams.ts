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
 * Reads a stream that must carry exactly `length` bytes into one buffer (a chunk's tail, at most
 * one part). A stream that ends early is a BodyTooShortError, one that breaks a BodyReadError.
 */
export async function readExactly(source: ReadableStream<Uint8Array>, length: number): Promise<Uint8Array> {
  const byob = byobReader(source);
  if (byob) return readExactlyInto(byob, length);
  const buffer = new Uint8Array(length);
  const reader = source.getReader();
  let filled = 0;
  for (;;) {
    const read = await reader.read().catch((cause: unknown) => {
      throw new BodyReadError(cause);
    });
    if (read.done) break;
    if (filled + read.value.byteLength > length) {
      await reader.cancel().catch(() => {});
      throw new BodyReadError("the body is longer than its declared length");
    }
    buffer.set(read.value, filled);
    filled += read.value.byteLength;
    if (filled === length) {
      // A slice ends exactly here; a whole body must also end here.
      const after = await reader.read().catch((cause: unknown) => {
        throw new BodyReadError(cause);
      });
      if (!after.done) throw new BodyReadError("the body is longer than its declared length");
      break;
    }
  }
  if (filled < length) throw new BodyTooShortError();
  return buffer;
}

/** A reader that fills a buffer of ours, for a byte stream (a request body); null for another stream. */
function byobReader(source: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | null {
  try {
    return source.getReader({ mode: "byob" });
  } catch {
    return null;
  }
}

/**
 * `readExactly` for a byte stream: the runtime fills the buffer in one call (`readAtLeast`), where
 * a default reader hands over a request body in pieces of a few KiB, each a turn of JavaScript
 * (a fifth of the isolate's time under 1 MiB chunks, profiled).
 */
async function readExactlyInto(reader: ReadableStreamBYOBReader, length: number): Promise<Uint8Array> {
  const read = (min: number, view: Uint8Array) =>
    reader.readAtLeast(min, view).catch((cause: unknown) => {
      throw new BodyReadError(cause);
    });
  let buffer: Uint8Array = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    // The view's buffer is handed to the stream and comes back in the answer.
    const { value, done } = await read(length - filled, new Uint8Array(buffer.buffer, filled, length - filled));
    if (value) {
      buffer = new Uint8Array(value.buffer, 0, length);
      filled += value.byteLength;
    }
    if (done) break;
  }
  if (filled < length) throw new BodyTooShortError();
  // A slice ends exactly here; a whole body must also end here.
  const after = await read(1, new Uint8Array(1));
  if (!after.done) {
    await reader.cancel().catch(() => {});
    throw new BodyReadError("the body is longer than its declared length");
  }
  return buffer;
}

/** A stream of the given byte arrays, in order (no copies). */
export function streamOf(chunks: readonly Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]!);
      else controller.close();
    },
  });
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
  // Open every source at once (their round trips overlap); read them strictly in order.
  const opened = sources.map((open) => {
    const source = open();
    source.catch(() => {}); // a failure surfaces when its turn comes
    return source;
  });
  const copied = (async () => {
    for (const [i, source] of opened.entries()) {
      await (await source).pipeTo(writable, { preventClose: i < opened.length - 1 });
    }
  })();
  copied.catch((reason) => writable.abort(reason).catch(() => {}));
  return { readable, copied };
}

/**
 * Reads a byte stream in pieces of at most a given size, into one reused buffer. A read error
 * does not throw: the bytes that did arrive are returned with the failure, so they can be kept.
 * A byte stream (a request body) is read in blocks of at least BLOCK_BYTES, each one runtime call
 * (a default reader would hand it over a few KiB at a time, each a turn of JavaScript), into a
 * buffer of READ_BYTES of its own, then copied: a read hands its buffer to the stream, and a read
 * that fails does not give it back (stream-bounds.test.ts). Of a body cut off midway, workerd
 * hands over the bytes that arrived (tus.test.ts keeps every byte); a read that failed loses at
 * most READ_BYTES.
 */
export class PieceReader {
  static readonly BLOCK_BYTES = 64 * 1024;
  static readonly READ_BYTES = 256 * 1024;
  readonly #byob: ReadableStreamBYOBReader | null;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array> | null;
  #buffer: Uint8Array;
  #block: Uint8Array;
  #pending: Uint8Array | null = null;
  #ended = false;

  /** The memory a reader of pieces of at most `maxPiece` bytes holds: the piece and a read's block. */
  static bytesHeld(maxPiece: number): number {
    return maxPiece + Math.min(PieceReader.READ_BYTES, maxPiece);
  }

  constructor(source: ReadableStream<Uint8Array>, maxPiece: number) {
    this.#byob = byobReader(source);
    this.#reader = this.#byob ? null : source.getReader();
    this.#buffer = new Uint8Array(maxPiece);
    this.#block = new Uint8Array(this.#byob ? Math.min(PieceReader.READ_BYTES, maxPiece) : 0);
  }

  /** The next piece of at most `max` bytes; its `bytes` are valid until the next call. */
  async next(max: number): Promise<{ bytes: Uint8Array; ended: boolean; failure?: BodyReadError }> {
    let filled = 0;
    while (filled < max) {
      let chunk = this.#pending;
      this.#pending = null;
      if (!chunk) {
        if (this.#ended) break;
        try {
          if (this.#byob) {
            // The view's buffer is handed to the stream and comes back in the answer (not if the read fails).
            const view = new Uint8Array(this.#block.buffer, 0, Math.min(this.#block.byteLength, max - filled));
            const read = await this.#byob.readAtLeast(Math.min(PieceReader.BLOCK_BYTES, view.byteLength), view);
            if (read.value) this.#block = new Uint8Array(read.value.buffer);
            if (read.done) this.#ended = true;
            if (!read.value?.byteLength) continue;
            chunk = read.value;
          } else {
            const read = await this.#reader!.read();
            if (read.done) {
              this.#ended = true;
              break;
            }
            chunk = read.value;
          }
        } catch (cause) {
          return { bytes: this.#buffer.subarray(0, filled), ended: true, failure: new BodyReadError(cause) };
        }
      }
      const take = Math.min(chunk.byteLength, max - filled);
      this.#buffer.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take < chunk.byteLength) this.#pending = chunk.subarray(take);
    }
    return { bytes: this.#buffer.subarray(0, filled), ended: this.#ended && this.#pending === null };
  }

  /** Whether any bytes are left (reads ahead by at most one chunk). */
  async hasMore(): Promise<boolean> {
    if (this.#pending) return true;
    if (this.#ended) return false;
    const read = await (this.#byob ? this.#byob.read(new Uint8Array(1)) : this.#reader!.read()).catch(() => ({ done: true as const, value: undefined }));
    if (read.done || !read.value?.byteLength) {
      this.#ended ||= read.done;
      return !read.done && this.hasMore();
    }
    this.#pending = read.value;
    return true;
  }
}
