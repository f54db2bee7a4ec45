import sharp from "sharp";

/**
 * A 4:3 JPEG of about `megapixels`, photo-like in size (smooth gradient plus sensor-like noise,
 * quality 85: a 12 MP one is a few MB, as from a phone), with EXIF orientation 6 and a camera.
 */
export async function photoLikeJpeg(megapixels: number): Promise<{ bytes: Buffer; width: number; height: number }> {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 4) / 3));
  const height = Math.round((width * 3) / 4);
  const gradient = Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">` +
      `<stop offset="0" stop-color="#c43"/><stop offset="0.5" stop-color="#7a9"/><stop offset="1" stop-color="#248"/></linearGradient></defs>` +
      `<rect width="100%" height="100%" fill="url(#g)"/></svg>`,
  );
  const noise = await sharp({ create: { width, height, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 12 } } }).png().toBuffer();
  const bytes = await sharp(gradient)
    .composite([{ input: noise, blend: "overlay" }])
    .withExif({ IFD0: { Make: "Pixelcam", Model: "P9 Pro" } })
    .withMetadata({ orientation: 6 })
    .jpeg({ quality: 85 })
    .toBuffer();
  return { bytes, width, height };
}
