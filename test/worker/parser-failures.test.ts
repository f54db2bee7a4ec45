/** Files that lie about themselves, through the queue consumer: each fails at once with its reason. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makePng } from "../fixtures/photos";
import { deliver, uploadPhoto } from "./photo-helpers";

async function photoRow(photoId: string) {
  return (await env.DB.prepare("SELECT status, failure_reason, processing_attempts FROM photos WHERE id = ?").bind(photoId).first<{
    status: string;
    failure_reason: string | null;
    processing_attempts: number;
  }>())!;
}

describe("lengths a file claims", () => {
  it("a 45-byte PNG whose header claims a 4 GiB chunk fails on its first delivery, at once", async () => {
    // Signature, IHDR, then a chunk header claiming 4 GiB, and 4 bytes.
    const png = makePng({ width: 8, height: 8 }).slice(0, 45);
    new DataView(png.buffer).setUint32(33, 0xfffffff0);
    const { job, photoId } = await uploadPhoto(png, { contentType: "image/png" });
    const started = Date.now();
    const result = await deliver([job]);
    const elapsed = Date.now() - started;
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(elapsed).toBeLessThan(1000);
    expect(await photoRow(photoId)).toMatchObject({ status: "failed", failure_reason: expect.stringMatching(/^the image data is truncated: at byte 41 it claims 4294967284 more bytes, but only 4 are left$/) });
  });
});
