/**
 * Chunk planning: which bytes go next, how large a chunk the link deserves right now, and how the
 * guest API's Content-Range names them.
 */

/** Bytes [start, end) of the file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The server refuses any chunk but the last below this (`chunk_too_small`). */
export const MIN_CHUNK_BYTES = 256 * 1024;

/**
 * The next chunk of at most `chunkSize` bytes from the server's `offset`, or null once the server
 * has every byte. `partSize` is the server's chunk size (its storage part): a chunk that would cross
 * one of its multiples stops there, so that once chunks are full-size again each fills exactly one
 * part, unless the piece up to that boundary would be too small for the server to take.
 */
export function nextChunk(offset: number, size: number, chunkSize: number, partSize = chunkSize): ByteRange | null {
  if (offset >= size) return null;
  const boundary = (Math.floor(offset / partSize) + 1) * partSize;
  const end = offset + chunkSize > boundary && boundary - offset >= MIN_CHUNK_BYTES ? boundary : offset + chunkSize;
  return { start: offset, end: Math.min(size, end) };
}

/** `bytes a-b/total`, b inclusive. */
export function contentRange(range: ByteRange, total: number): string {
  return `bytes ${range.start}-${range.end - 1}/${total}`;
}

export interface ChunkPolicy {
  /** Never smaller than this (nor than the server's chunk size): the server's own floor. */
  minBytes: number;
  /** Never larger than this, whatever the server's chunk size (a knob for benches: 1 MiB forced). */
  maxBytes: number;
  /** A chunk that takes longer is too large for the link: the next one is half as large. */
  slowMs: number;
  /** After this many chunks in a row, each within half of `slowMs`, chunks double again. */
  growAfter: number;
}

export const defaultChunkPolicy: ChunkPolicy = { minBytes: MIN_CHUNK_BYTES, maxBytes: Infinity, slowMs: 10_000, growAfter: 3 };

/**
 * How large the next chunk is, learnt from how the last ones went; one per engine, since its
 * uploads share one link. A chunk that fails or is slow halves it (a drop then loses little and a
 * weak link still gets chunks through); steady quick chunks double it back, up to the server's
 * chunk size, where a good link pays no per-chunk overhead.
 */
export class ChunkSizer {
  private readonly policy: ChunkPolicy;
  /** The size the link has earned; null: as large as the server allows (no trouble seen lately). */
  private earned: number | null = null;
  private quickInARow = 0;

  constructor(policy: Partial<ChunkPolicy> = {}) {
    this.policy = { ...defaultChunkPolicy, ...policy };
  }

  /** The size of the next chunk of a session whose server chose `serverChunkSize`. */
  size(serverChunkSize: number): number {
    const ceiling = Math.min(serverChunkSize, this.policy.maxBytes);
    if (this.earned === null) return ceiling;
    return Math.min(ceiling, Math.max(this.earned, this.policy.minBytes));
  }

  /** A chunk went through in `ms`. */
  succeeded(ms: number, serverChunkSize: number): void {
    if (ms > this.policy.slowMs) return this.shrink(serverChunkSize);
    if (this.earned === null || ms * 2 > this.policy.slowMs) return;
    this.quickInARow += 1;
    if (this.quickInARow < this.policy.growAfter) return;
    this.quickInARow = 0;
    const grown = this.size(serverChunkSize) * 2;
    this.earned = grown >= Math.min(serverChunkSize, this.policy.maxBytes) ? null : grown;
  }

  /** A chunk was lost on the way (connection dropped, timed out, server busy). */
  failed(serverChunkSize: number): void {
    this.shrink(serverChunkSize);
  }

  private shrink(serverChunkSize: number): void {
    this.quickInARow = 0;
    this.earned = Math.max(this.policy.minBytes, Math.floor(this.size(serverChunkSize) / 2));
  }
}
