/**
 * No photo ever points at files that are gone, and nothing of a deleted photo stays in R2: a
 * duplicate linking to a photo an organiser deletes at that moment, and a guest taking a photo
 * back while the queue is still processing it.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, sha256Hex, uploadCall } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const deleteAsOrganiser = (eventId: string, photoId: string) => call(`/api/v1/admin/events/${eventId}/photos/${photoId}`, { method: "DELETE", headers: bootstrap });

interface PhotoRow {
  status: string;
  duplicate_of: string | null;
  original_key: string;
  scrubbed_key: string | null;
  thumb_large_key: string | null;
  thumb_small_key: string | null;
}
const photoRow = async (photoId: string) => (await env.DB.prepare("SELECT * FROM photos WHERE id = ?").bind(photoId).first<PhotoRow>())!;
const keysOf = (row: PhotoRow) => [row.original_key, row.scrubbed_key, row.thumb_large_key, row.thumb_small_key].filter((key): key is string => key !== null);
/** Every object R2 holds for a photo: its upload and everything processing derives from it. */
async function objectsOf(eventId: string, photoId: string, uploadId: string): Promise<string[]> {
  const derived = await env.PHOTOS.list({ prefix: `photos/${eventId}/${photoId}/` });
  const upload = await env.PHOTOS.head(`uploads/${eventId}/${uploadId}`);
  return [...derived.objects.map((object) => object.key), ...(upload ? [upload.key] : [])];
}

/** The photo is ready, every file its row names is in R2, and its original is the bytes uploaded. */
async function expectIntact(photoId: string, bytes: Uint8Array) {
  const row = await photoRow(photoId);
  expect(row.status).toBe("ready");
  expect(row.thumb_small_key).not.toBeNull();
  for (const key of keysOf(row)) expect(await env.PHOTOS.head(key), key).not.toBeNull();
  expect(await sha256Hex((await env.PHOTOS.get(row.original_key))!.body)).toBe(await sha256Hex(bytes));
}

/**
 * Runs `before` once, just before the first D1 statement whose SQL matches `pattern` executes
 * (after it is prepared and bound), to land another request at exactly that moment.
 */
function beforeStatement(pattern: RegExp, before: () => Promise<void>) {
  const prepare = env.DB.prepare.bind(env.DB);
  let pending = true;
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property) as unknown;
        if (typeof value !== "function") return value;
        if (property === "bind") return (...args: unknown[]) => wrap(value.apply(target, args) as D1PreparedStatement);
        if (pending && ["run", "all", "raw", "first"].includes(String(property))) {
          return async (...args: unknown[]) => {
            pending = false;
            await before();
            return value.apply(target, args);
          };
        }
        return value.bind(target);
      },
    });
  vi.spyOn(env.DB, "prepare").mockImplementation((query: string) => (pending && pattern.test(query) ? wrap(prepare(query)) : prepare(query)));
}
const LINK_STATEMENT = /^update "photos" set .*"duplicate_of" = \?/;

afterEach(() => vi.restoreAllMocks());

describe("a duplicate and the deletion of its original", () => {
  async function originalAndDuplicate() {
    const event = await createEvent();
    const bytes = makeJpeg({ width: 240, height: 160 });
    const first = await uploadPhoto(bytes, { token: event.join_token });
    await deliver([first.job]);
    const second = await uploadPhoto(bytes, { token: event.join_token });
    return { event, bytes, first, second };
  }

  it("delete then link: the original is deleted just before the duplicate would link to it, and the duplicate keeps files of its own", async () => {
    const { event, bytes, first, second } = await originalAndDuplicate();
    beforeStatement(LINK_STATEMENT, async () => {
      expect((await deleteAsOrganiser(event.event_id, first.photoId)).status).toBe(200);
    });
    await deliver([second.job]);
    expect((await photoRow(first.photoId)).status).toBe("deleted");
    expect(await objectsOf(event.event_id, first.photoId, first.upload.id)).toEqual([]);
    expect((await photoRow(second.photoId)).duplicate_of).toBeNull();
    await expectIntact(second.photoId, bytes);
  });

  it("link while deleting: the duplicate reaches its link while the delete of the original is removing its files", async () => {
    const { event, bytes, first, second } = await originalAndDuplicate();
    let arrived!: () => void;
    const linkArrived = new Promise<void>((resolve) => (arrived = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    beforeStatement(LINK_STATEMENT, async () => {
      arrived();
      await gate;
    });
    const processing = deliver([second.job]);
    await linkArrived;

    // The delete has decided which files go; before R2 removes them, the duplicate's link runs.
    const remove = env.PHOTOS.delete.bind(env.PHOTOS);
    const removal = vi.spyOn(env.PHOTOS, "delete").mockImplementationOnce(async (keys) => {
      release();
      await processing;
      return remove(keys);
    });
    expect((await deleteAsOrganiser(event.event_id, first.photoId)).status).toBe(200);
    expect(removal).toHaveBeenCalled();
    await processing;
    await expectIntact(second.photoId, bytes);
  });

  it("link then delete: deleting the original keeps the files its duplicate shares; deleting the duplicate too leaves nothing", async () => {
    const { event, bytes, first, second } = await originalAndDuplicate();
    await deliver([second.job]);
    expect((await photoRow(second.photoId)).duplicate_of).toBe(first.photoId);
    expect((await deleteAsOrganiser(event.event_id, first.photoId)).status).toBe(200);
    await expectIntact(second.photoId, bytes);

    expect((await uploadCall(second.upload, "DELETE", "/photo")).status).toBe(204);
    expect(await objectsOf(event.event_id, first.photoId, first.upload.id)).toEqual([]);
    expect(await objectsOf(event.event_id, second.photoId, second.upload.id)).toEqual([]);
  });
});

describe("a guest takes a photo back while it is processed", () => {
  it("leaves nothing of it in R2 or in any listing, though processing had written its copies", async () => {
    const event = await createEvent({ gallery_enabled: true });
    const { job, photoId, upload } = await uploadPhoto(makeJpeg({ width: 300, height: 200 }), { token: event.join_token });
    // The take-back lands as processing writes its thumbnails: the scrubbed copy is already written.
    const put = env.PHOTOS.put.bind(env.PHOTOS);
    let takenBack: Response | undefined;
    vi.spyOn(env.PHOTOS, "put").mockImplementation(async (key, ...rest) => {
      if (!takenBack && key.endsWith(".webp")) takenBack = await uploadCall(upload, "DELETE", "/photo");
      return put(key, ...rest);
    });
    await deliver([job]);
    expect(takenBack?.status).toBe(204);

    expect(await objectsOf(event.event_id, photoId, upload.id)).toEqual([]);
    expect((await photoRow(photoId)).status).toBe("deleted");
    const listed = await (await call(`/api/v1/admin/events/${event.event_id}/photos`, { headers: bootstrap })).json<{ photos: unknown[] }>();
    expect(listed.photos).toEqual([]);
    const gallery = await (await call(`/api/v1/events/${event.join_token}/photos`)).json<{ photos: unknown[] }>();
    expect(gallery.photos).toEqual([]);
  });

  it("also when the take-back lands after processing recorded the photo's files", async () => {
    const event = await createEvent();
    const { job, photoId, upload } = await uploadPhoto(makeJpeg({ width: 300, height: 200 }), { token: event.join_token });
    // The guest's request read the photo while it was processing; processing finishes before the delete.
    let processed = false;
    beforeStatement(/^update "photos" set "status" = \?, "updated_at" = \? where/, async () => {
      await deliver([job]);
      processed = true;
    });
    expect((await uploadCall(upload, "DELETE", "/photo")).status).toBe(204);
    expect(processed).toBe(true);
    expect(await objectsOf(event.event_id, photoId, upload.id)).toEqual([]);
  });
});
