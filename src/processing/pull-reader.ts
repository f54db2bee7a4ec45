/**
 * Pulls bytes from a stream for a format parser: exact reads for headers, skips and scans for
 * the bulk. Every chunk passes through `tap` once, in order (for hashing and content scans), so
 * a single pass over the stream does all of it without holding the stream in memory.
 */
export class PullReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #tap: (chunk: Uint8Array) => void;
  #chunk: Uint8Array = new Uint8Array(0);
  #position = 0;
  /** Absolute offset of the next unread byte. */
  offset = 0;

  constructor(stream: ReadableStream<Uint8Array>, tap: (chunk: Uint8Array) => void) {
    this.#reader = stream.getReader();
    this.#tap = tap;
  }

  async #fill(): Promise<boolean> {
    while (this.#position >= this.#chunk.byteLength) {
      const read = await this.#reader.read();
      if (read.done) return false;
      this.#tap(read.value);
      this.#chunk = read.value;
      this.#position = 0;
    }
    return true;
  }

  /** The next `length` bytes (copied), or null if the stream ends first. */
  async bytes(length: number): Promise<Uint8Array | null> {
    const out = await this.bytesUpTo(length);
    return out.byteLength === length ? out : null;
  }

  /** The next `length` bytes, or fewer if the stream ends first. */
  async bytesUpTo(length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      if (!(await this.#fill())) return out.subarray(0, filled);
      const take = Math.min(length - filled, this.#chunk.byteLength - this.#position);
      out.set(this.#chunk.subarray(this.#position, this.#position + take), filled);
      this.#position += take;
      this.offset += take;
      filled += take;
    }
    return out;
  }

  async byte(): Promise<number | null> {
    if (!(await this.#fill())) return null;
    this.offset++;
    return this.#chunk[this.#position++]!;
  }

  /** Skips `length` bytes; false if the stream ends first. */
  async skip(length: number): Promise<boolean> {
    let left = length;
    while (left > 0) {
      if (!(await this.#fill())) return false;
      const take = Math.min(left, this.#chunk.byteLength - this.#position);
      this.#position += take;
      this.offset += take;
      left -= take;
    }
    return true;
  }

  /** Advances past the next occurrence of `value`; false if the stream ends first. */
  async skipPast(value: number): Promise<boolean> {
    for (;;) {
      if (!(await this.#fill())) return false;
      const found = this.#chunk.indexOf(value, this.#position);
      if (found >= 0) {
        this.offset += found + 1 - this.#position;
        this.#position = found + 1;
        return true;
      }
      this.offset += this.#chunk.byteLength - this.#position;
      this.#position = this.#chunk.byteLength;
    }
  }

  /** Reads to the end, so every byte has been tapped; returns how many bytes were left. */
  async drain(): Promise<number> {
    const start = this.offset;
    while (await this.#fill()) {
      this.offset += this.#chunk.byteLength - this.#position;
      this.#position = this.#chunk.byteLength;
    }
    return this.offset - start;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}
