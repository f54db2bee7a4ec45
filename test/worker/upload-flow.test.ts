import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MiB, createEvent, fileBytes, sendInChunks, sha256Hex, stagingObjects, startUpload, tailRows, uploadCall } from "./helpers";

describe("an upload in chunks of any size arrives byte-identical in R2", () => {
  const size = 25 * MiB;
  const file = fileBytes(size, 7);
  const cases: Array<[string, number[]]> = [
    ["1 MiB chunks", [1 * MiB]],
    ["256 KiB chunks", [256 * 1024]],
    ["5 MiB chunks", [5 * MiB]],
    ["7 MiB chunks", [7 * MiB]],
    ["a mix of sizes", [300 * 1024, 7 * MiB, 1 * MiB, 5 * MiB + 17, 256 * 1024, 3 * MiB]],
    ["one whole-file chunk", [size]],
  ];

  it.each(cases)("%s", async (_name, chunkSizes) => {
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, size, { sha256: await sha256Hex(file) });
    await sendInChunks(upload, file, chunkSizes);

    const complete = await uploadCall(upload, "POST", "/complete");
    expect(complete.status).toBe(201);
    const photo = await complete.json<{ photo_id: string; file_path: string; status: string }>();
    expect(photo.status).toBe("processing");

    const stored = await env.PHOTOS.get(photo.file_path);
    expect(stored?.size).toBe(size);
    expect(await sha256Hex(stored!.body)).toBe(await sha256Hex(file));
    // Nothing of the tail is left behind once the upload is assembled, in R2 or in the session.
    expect(await stagingObjects(upload.id)).toHaveLength(0);
    expect(await tailRows(upload.id)).toBe(0);
  });

  it("a small file takes the single-object path", async () => {
    const small = fileBytes(700 * 1024, 3);
    const { join_token } = await createEvent();
    const upload = await startUpload(join_token, small.byteLength);
    await sendInChunks(upload, small, [256 * 1024]);
    const complete = await uploadCall(upload, "POST", "/complete");
    expect(complete.status).toBe(201);
    const { file_path } = await complete.json<{ file_path: string }>();
    const stored = await env.PHOTOS.get(file_path);
    expect(await sha256Hex(stored!.body)).toBe(await sha256Hex(small));
  });
});
