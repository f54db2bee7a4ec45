import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MiB, createEvent, errorCode, fileBytes, manualChunk, uploadCall, startUpload, type Upload } from "./helpers";

async function objectsOf(eventId: string, upload: Upload) {
  const [uploads, staging] = await Promise.all([
    env.PHOTOS.list({ prefix: `uploads/${eventId}/${upload.id}` }),
    env.PHOTOS.list({ prefix: `staging/${upload.id}/` }),
  ]);
  return [...uploads.objects, ...staging.objects].map((object) => object.key);
}

describe("a chunk whose commit is refused leaves nothing behind", () => {
  it.each([
    ["the whole upload as one object", 2 * MiB, 2 * MiB],
    ["a staging segment of the tail", 3 * MiB, MiB],
  ])("an abort racing a chunk that writes %s", async (_what, size, chunkEnd) => {
    const { event_id, join_token } = await createEvent();
    const file = fileBytes(size, 31);
    const upload = await startUpload(join_token, size);
    const chunk = manualChunk(upload, size, 0, chunkEnd);
    await chunk.writer.write(file.slice(0, chunkEnd / 2));
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect((await uploadCall(upload, "DELETE")).status).toBe(204);
    await chunk.writer.write(file.slice(chunkEnd / 2, chunkEnd));
    await chunk.writer.close();
    const refused = await chunk.response;
    expect(refused.status).toBe(410);
    expect(await errorCode(refused)).toBe("upload_cancelled");
    expect(await objectsOf(event_id, upload)).toEqual([]);
  });
});
