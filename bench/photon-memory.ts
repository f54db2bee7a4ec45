/**
 * One measurement for `npm run bench:processing`, in a fresh process so photon's wasm memory
 * starts empty: decode a JPEG of the given megapixels with photon, resize to 1024 px, encode
 * WebP, and print the wasm memory's size afterwards (it only grows, so that is the peak).
 * Usage: node bench/photon-memory.ts <megapixels>
 */
import { PhotonImage, SamplingFilter, initPhoton, resize } from "@cf-wasm/photon/node";
import { photoLikeJpeg } from "./photo-like.ts";

const megapixels = Number(process.argv[2]);
const jpeg = await photoLikeJpeg(megapixels);
const wasm = await initPhoton.ensure();
const started = performance.now();
const image = PhotonImage.new_from_byteslice(new Uint8Array(jpeg.bytes));
const scale = 1024 / Math.max(jpeg.width, jpeg.height);
const thumb = resize(image, Math.round(jpeg.width * scale), Math.round(jpeg.height * scale), SamplingFilter.Lanczos3);
thumb.get_bytes_webp();
image.free();
thumb.free();
console.log(
  JSON.stringify({
    megapixels,
    inputMB: jpeg.bytes.byteLength / 2 ** 20,
    peakWasmMB: wasm.memory.buffer.byteLength / 2 ** 20,
    ms: Math.round(performance.now() - started),
  }),
);
