/** Chunk planning: which bytes go next, and how the guest API's Content-Range names them. */

/** Bytes [start, end) of the file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** The next chunk from the server's `offset`, or null once the server has every byte. */
export function nextChunk(offset: number, size: number, chunkSize: number): ByteRange | null {
  if (offset >= size) return null;
  return { start: offset, end: Math.min(size, offset + chunkSize) };
}

/** `bytes a-b/total`, b inclusive. */
export function contentRange(range: ByteRange, total: number): string {
  return `bytes ${range.start}-${range.end - 1}/${total}`;
}
