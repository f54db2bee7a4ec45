/**
 * Pulls bytes from a stream for a format parser: exact reads for headers, skips and scans for
 * the bulk. Every chunk passes through `tap` once, in order (for hashing and content scans), so
 * a single pass over the stream does all of it without holding the stream in memory.
 *
 * The reader knows the object's size, so a length read from the file is checked against what
 * is left before anything is allocated or read: a claim beyond the end is answered at once
 * (null / false, with `shortfall` saying what was claimed), never by waiting for bytes that
 * cannot come or by a buffer sized from a header.
 */

/** The stream ended before the object's size: a storage fault, worth retrying. */
export class ShortReadError extends Error {}

/**
 * The most segments or chunks a parser reads from one file: a camera's JPEG has a few dozen, a
 * PNG a few thousand IDAT chunks. Each costs a few awaited reads, so a file of nothing but empty
 * ones (4 bytes each in a JPEG) would otherwise cost seconds of CPU per 20 MiB.
 */
export const MAX_STRUCTURES = 100_000;

export class PullReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #tap: (chunk: Uint8Array) => void;
  #chunk: Uint8Array = new Uint8Array(0);
  #position = 0;
  #structures = 0;
  /** Absolute offset of the next unread byte. */
  offset = 0;
  /** The first read that asked for more than was left: where, how much, and how much there was. */
  shortfall: { at: number; wanted: number; left: number } | null = null;

  constructor(
    stream: ReadableStream<Uint8Array>,
    readonly size: number,
    tap: (chunk: Uint8Array) => void,
  ) {
    this.#reader = stream.getReader();
    this.#tap = tap;
  }

  get remaining(): number {
    return this.size - this.offset;
  }

  /** Counts one segment or chunk the parser is about to read; true once the file has more than MAX_STRUCTURES. */
  tooManyStructures(): boolean {
    return ++this.#structures > MAX_STRUCTURES;
  }

  /** True if `length` more bytes exist; otherwise records the shortfall. */
  has(length: number): boolean {
    if (length <= this.remaining) return true;
    this.shortfall ??= { at: this.offset, wanted: length, left: this.remaining };
    return false;
  }

  async #fill(): Promise<boolean> {
    while (this.#position >= this.#chunk.byteLength) {
      if (this.offset >= this.size) return false;
      const read = await this.#reader.read();
      if (read.done) throw new ShortReadError(`the stored original ended after ${this.offset} of its ${this.size} bytes`);
      this.#tap(read.value);
      this.#chunk = read.value;
      this.#position = 0;
    }
    return true;
  }

  /** The next `length` bytes (copied), or null, without reading, if the object has fewer left. */
  async bytes(length: number): Promise<Uint8Array | null> {
    return this.has(length) ? this.bytesUpTo(length) : null;
  }

  /** The next `length` bytes, or fewer if the object ends first. */
  async bytesUpTo(length: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.remaining)));
    let filled = 0;
    while (filled < out.byteLength && (await this.#fill())) {
      const take = Math.min(out.byteLength - filled, this.#chunk.byteLength - this.#position);
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

  /** Skips `length` bytes; false, without reading, if the object has fewer left. */
  async skip(length: number): Promise<boolean> {
    if (!this.has(length)) return false;
    let left = length;
    while (left > 0 && (await this.#fill())) {
      const take = Math.min(left, this.#chunk.byteLength - this.#position);
      this.#position += take;
      this.offset += take;
      left -= take;
    }
    return true;
  }

  /**
   * Scans forward without an await per byte (a file can hold millions of bytes to step over):
   * `find(chunk, from)` looks through one buffered chunk from `from` and answers the index just
   * past what it sought, or -1 to go on in the next chunk (state across chunks is its own).
   * False if the object ends first.
   */
  async seek(find: (chunk: Uint8Array, from: number) => number): Promise<boolean> {
    for (;;) {
      if (!(await this.#fill())) return false;
      const end = find(this.#chunk, this.#position);
      const next = end < 0 ? this.#chunk.byteLength : end;
      this.offset += next - this.#position;
      this.#position = next;
      if (end >= 0) return true;
    }
  }

  /** Skips a run of `value` bytes; the first other byte (consumed), or null if the object ends first. */
  async byteAfterRun(value: number): Promise<number | null> {
    let other: number | null = null;
    const found = await this.seek((chunk, from) => {
      let at = from;
      while (at < chunk.byteLength && chunk[at] === value) at++;
      if (at === chunk.byteLength) return -1;
      other = chunk[at]!;
      return at + 1;
    });
    return found ? other : null;
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
