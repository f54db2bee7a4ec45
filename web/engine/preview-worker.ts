/**
 * The photo preview worker (previews.ts starts it): decodes a picked photo with
 * createImageBitmap, EXIF orientation applied, and encodes its preview on an OffscreenCanvas,
 * so a 12-megapixel decode never holds up the page. Answers null for what the browser cannot
 * decode (HEIC, in most).
 */
import { encodePreview, type PreviewSize } from "./preview-encoding.ts";

export interface PreviewRequest {
  id: number;
  file: Blob;
  size: PreviewSize;
}

export interface PreviewAnswer {
  id: number;
  preview: Blob | null;
}

// The web apps' types are the page's (DOM lib); a worker's postMessage takes no target origin.
const worker = self as unknown as { postMessage(answer: PreviewAnswer): void };

addEventListener("message", (event: MessageEvent<PreviewRequest>) => {
  const { id, file, size } = event.data;
  void photoPreview(file, size).then((preview) => worker.postMessage({ id, preview }));
});

async function photoPreview(file: Blob, size: PreviewSize): Promise<Blob | null> {
  let bitmap: ImageBitmap;
  try {
    // "from-image" is the default now; spelled out, since the turn is the point.
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return null;
  }
  try {
    return await encodePreview(bitmap, bitmap.width, bitmap.height, size);
  } catch {
    return null;
  } finally {
    bitmap.close();
  }
}
