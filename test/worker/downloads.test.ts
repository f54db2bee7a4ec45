import { env } from "cloudflare:workers";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { signPath } from "../../src/lib/signing";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, errorCode, fileBytes, sha256Hex, uploadCall } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  call(`/api/v1/admin${path}`, { method: init.method ?? "GET", headers: bootstrap, ...(init.body ? { body: JSON.stringify(init.body) } : {}) });
/** Fetches an absolute URL the API handed out, through the Worker. */
const fetchUrl = (url: string, headers: Record<string, string> = {}) => {
  const { pathname, search } = new URL(url);
  return call(pathname + search, { headers });
};

interface PhotoUrls {
  original?: string | null;
  scrubbed: string | null;
  thumb_1024: string | null;
  thumb_256: string | null;
}

async function readyPhoto(settings: Record<string, unknown> = {}, filename = "Émile's photo.jpg") {
  const event = await createEvent(settings);
  const bytes = makeJpeg({ width: 320, height: 240 });
  const uploaded = await uploadPhoto(bytes, { token: event.join_token, filename });
  await deliver([uploaded.job]);
  return { event, bytes, ...uploaded };
}

async function organiserUrls(eventId: string, photoId: string): Promise<PhotoUrls> {
  const response = await admin(`/events/${eventId}/photos/${photoId}`);
  expect(response.status).toBe(200);
  return (await response.json<{ urls: PhotoUrls }>()).urls;
}

describe("signed downloads for organisers", () => {
  it("serves the original with its type, ETag, filename, nosniff, ranges and revalidation", async () => {
    const { event, bytes, photoId } = await readyPhoto();
    const urls = await organiserUrls(event.event_id, photoId);
    expect(urls.original).toMatch(/^https:\/\/photos\.test\/api\/v1\/files\/photos\/.+\/original\?exp=\d+&sig=/);

    const whole = await fetchUrl(urls.original!);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("image/jpeg");
    expect(whole.headers.get("x-content-type-options")).toBe("nosniff");
    expect(whole.headers.get("content-disposition")).toBe(`attachment; filename="_mile's photo.jpg"; filename*=UTF-8''%C3%89mile%27s%20photo.jpg`);
    expect(whole.headers.get("accept-ranges")).toBe("bytes");
    expect(whole.headers.get("content-length")).toBe(String(bytes.byteLength));
    const etag = whole.headers.get("etag")!;
    expect(etag).toMatch(/^"/);
    expect(await sha256Hex(await whole.arrayBuffer())).toBe(await sha256Hex(bytes));

    const part = await fetchUrl(urls.original!, { range: "bytes=10-19" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-19/${bytes.byteLength}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(10, 20));

    const suffix = await fetchUrl(urls.original!, { range: "bytes=-5" });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe(`bytes ${bytes.byteLength - 5}-${bytes.byteLength - 1}/${bytes.byteLength}`);
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(bytes.slice(-5));

    const open = await fetchUrl(urls.original!, { range: `bytes=${bytes.byteLength - 3}-` });
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(bytes.slice(-3));

    const beyond = await fetchUrl(urls.original!, { range: `bytes=${bytes.byteLength + 10}-` });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${bytes.byteLength}`);

    const cached = await fetchUrl(urls.original!, { "if-none-match": etag });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe("");
  });

  it("serves thumbnails and the scrubbed copy inline with their own types", async () => {
    const { event, photoId } = await readyPhoto();
    const urls = await organiserUrls(event.event_id, photoId);
    const thumb = await fetchUrl(urls.thumb_256!);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/webp");
    expect(thumb.headers.get("content-disposition")).toMatch(/^inline; filename="_mile's photo-256\.webp"/);
    const scrubbed = await fetchUrl(urls.scrubbed!);
    expect(scrubbed.headers.get("content-type")).toBe("image/jpeg");
    expect(scrubbed.headers.get("content-disposition")).toMatch(/^inline;/);
  });

  it("refuses tampered and expired links", async () => {
    const { event, photoId } = await readyPhoto();
    const urls = await organiserUrls(event.event_id, photoId);
    const url = new URL(urls.original!);
    const signature = url.searchParams.get("sig")!;

    const flipped = new URL(url);
    flipped.searchParams.set("sig", (signature[0] === "A" ? "B" : "A") + signature.slice(1));
    expect(await errorCode(await fetchUrl(flipped.href))).toBe("invalid_signature");

    const otherVariant = new URL(url.href.replace("/original?", "/thumb-256?"));
    expect(await errorCode(await fetchUrl(otherVariant.href))).toBe("invalid_signature");

    const later = new URL(url);
    later.searchParams.set("exp", String(Number(url.searchParams.get("exp")) + 3600));
    expect(await errorCode(await fetchUrl(later.href))).toBe("invalid_signature");

    const unsigned = await call(url.pathname);
    expect(unsigned.status).toBe(403);

    const path = `/api/v1/files/photos/${photoId}/original`;
    const expired = await call(await signPath(env.SIGNING_SECRET, path, Date.now() - 1000));
    expect(expired.status).toBe(410);
    expect(await errorCode(expired)).toBe("link_expired");
    const fresh = await call(await signPath(env.SIGNING_SECRET, path, Date.now() + 2000));
    expect(fresh.status).toBe(200);
    const forged = await call(await signPath("not-the-secret", path, Date.now() + 60_000));
    expect(forged.status).toBe(403);
  });

  it("gives the same URL for the same file within a window, so browsers can cache it", async () => {
    const { event, photoId } = await readyPhoto();
    const first = await organiserUrls(event.event_id, photoId);
    const second = await organiserUrls(event.event_id, photoId);
    expect(second.thumb_256).toBe(first.thumb_256);
  });
});

describe("the guest gallery", () => {
  const gallery = async (token: string) => call(`/api/v1/events/${token}/photos`);

  it("is refused when the event does not show its photos", async () => {
    const { event } = await readyPhoto({ gallery_enabled: false });
    const response = await gallery(event.join_token);
    expect(response.status).toBe(403);
    expect(await errorCode(response)).toBe("gallery_disabled");
  });

  it("shows approved photos' scrubbed copies and thumbnails, never originals, and follows moderation", async () => {
    const { event, photoId } = await readyPhoto({ gallery_enabled: true });
    const response = await gallery(event.join_token);
    expect(response.status).toBe(200);
    const page = await response.json<{ photos: Array<{ photo_id: string; urls: PhotoUrls }>; next_cursor: string | null }>();
    expect(page.photos.map((photo) => photo.photo_id)).toEqual([photoId]);
    const urls = page.photos[0]!.urls;
    expect(Object.keys(urls).sort()).toEqual(["scrubbed", "thumb_1024", "thumb_256"]);
    expect((await fetchUrl(urls.scrubbed!)).status).toBe(200);
    expect((await fetchUrl(urls.thumb_256!)).status).toBe(200);
    // The guest's link cannot be bent into the original: the signature covers the path.
    expect((await fetchUrl(urls.scrubbed!.replace("/scrubbed?", "/original?"))).status).toBe(403);

    expect((await admin(`/events/${event.event_id}/photos/${photoId}/hide`, { method: "POST" })).status).toBe(200);
    const hidden = await (await gallery(event.join_token)).json<{ photos: unknown[] }>();
    expect(hidden.photos).toEqual([]);
    // Links already handed out stop working at once.
    expect((await fetchUrl(urls.scrubbed!)).status).toBe(404);
    // The organiser still sees it.
    const organiser = await organiserUrls(event.event_id, photoId);
    expect((await fetchUrl(organiser.scrubbed!)).status).toBe(200);
  });

  it("in review mode shows a photo only once an organiser approves it", async () => {
    const { event, photoId } = await readyPhoto({ gallery_enabled: true, moderation_mode: "review" });
    const before = await (await gallery(event.join_token)).json<{ photos: unknown[] }>();
    expect(before.photos).toEqual([]);
    const listed = await (await admin(`/events/${event.event_id}/photos?approved=false`)).json<{ photos: Array<{ photo_id: string }> }>();
    expect(listed.photos.map((photo) => photo.photo_id)).toEqual([photoId]);
    expect((await admin(`/events/${event.event_id}/photos/${photoId}/approve`, { method: "POST" })).status).toBe(200);
    const after = await (await gallery(event.join_token)).json<{ photos: Array<{ photo_id: string }> }>();
    expect(after.photos.map((photo) => photo.photo_id)).toEqual([photoId]);
  });
});

describe("a guest takes back their photo", () => {
  it("deletes it, its files and its listings, with that upload's key only", async () => {
    const { event, photoId, upload } = await readyPhoto({ gallery_enabled: true });
    const objects = await env.DB.prepare("SELECT original_key, scrubbed_key, thumb_large_key, thumb_small_key FROM photos WHERE id = ?")
      .bind(photoId)
      .first<Record<string, string>>();
    const keys = Object.values(objects!);
    expect(keys.every(Boolean)).toBe(true);

    const wrongKey = await call(`/api/v1/events/${upload.token}/uploads/${upload.id}/photo`, { method: "DELETE", headers: { "upload-key": "nope" } });
    expect(wrongKey.status).toBe(401);
    const otherEvent = await createEvent();
    const elsewhere = await call(`/api/v1/events/${otherEvent.join_token}/uploads/${upload.id}/photo`, { method: "DELETE", headers: { "upload-key": upload.key } });
    expect(elsewhere.status).toBe(404);

    expect((await uploadCall(upload, "DELETE", "/photo")).status).toBe(204);
    for (const key of keys) expect(await env.PHOTOS.head(key), key).toBeNull();
    const gallery = await (await call(`/api/v1/events/${event.join_token}/photos`)).json<{ photos: unknown[] }>();
    expect(gallery.photos).toEqual([]);
    const listed = await (await admin(`/events/${event.event_id}/photos`)).json<{ photos: unknown[] }>();
    expect(listed.photos).toEqual([]);
    expect((await admin(`/events/${event.event_id}/photos/${photoId}`)).status).toBe(404);
    // Repeating it changes nothing.
    expect((await uploadCall(upload, "DELETE", "/photo")).status).toBe(204);
  });
});

describe("an event's ZIP", () => {
  /** Stores `count` approved photos straight into D1 and R2, as processing leaves them. */
  async function seedStoredPhotos(eventId: string, count: number) {
    const token = await env.DB.prepare("SELECT id FROM join_tokens WHERE event_id = ?").bind(eventId).first<{ id: string }>();
    const photos = [];
    for (let i = 0; i < count; i++) {
      const id = crypto.randomUUID();
      const bytes = fileBytes(1000 + i * 997, i + 1);
      const key = `uploads/${eventId}/${id}`;
      await env.PHOTOS.put(key, bytes);
      // Every fifth photo has the same name, as phones do across guests.
      const filename = i % 5 === 0 ? "IMG_0001.JPG" : `IMG_${1000 + i}.jpg`;
      const takenAt = Date.UTC(2026, 5, 14, 17, 0, i);
      await env.DB.batch([
        env.DB.prepare(
          `INSERT INTO upload_sessions (id, event_id, join_token_id, device_id, status, total_size, received_bytes, chunk_size, expires_at, r2_key, upload_key_hash, filename, content_type, updated_at)
           VALUES (?, ?, ?, 'device-zip', 'completed', ?, ?, 1048576, 0, ?, 'h', ?, 'image/jpeg', 0)`,
        ).bind(id, eventId, token!.id, bytes.byteLength, bytes.byteLength, key, filename),
        env.DB.prepare(
          `INSERT INTO photos (id, event_id, upload_id, device_id, status, original_key, size, filename, declared_content_type, content_type, approved_at, taken_at, updated_at, created_at)
           VALUES (?, ?, ?, 'device-zip', 'ready', ?, ?, ?, 'image/jpeg', 'image/jpeg', 1, ?, 0, ?)`,
        ).bind(id, eventId, id, key, bytes.byteLength, filename, takenAt, takenAt + i),
      ]);
      photos.push({ id, bytes, filename, takenAt });
    }
    return photos;
  }

  it("streams the approved photos' originals, with sensible unique names, and leaves the others out", async () => {
    const { event_id } = await createEvent({ name: "Anna & Ben's wedding" });
    const stored = await seedStoredPhotos(event_id, 52);
    // One hidden and one unapproved photo are not in the archive.
    await env.DB.prepare("UPDATE photos SET status = 'hidden' WHERE id = ?").bind(stored[50]!.id).run();
    await env.DB.prepare("UPDATE photos SET approved_at = NULL WHERE id = ?").bind(stored[51]!.id).run();
    const included = stored.slice(0, 50);

    const link = await admin(`/events/${event_id}/download`, { method: "POST" });
    expect(link.status).toBe(200);
    const { url, photo_count, bytes } = await link.json<{ url: string; photo_count: number; bytes: number }>();
    expect(photo_count).toBe(50);
    expect(bytes).toBe(included.reduce((sum, photo) => sum + photo.bytes.byteLength, 0));

    const response = await fetchUrl(url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/zip");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment; filename="Anna & Ben's wedding\.zip"/);
    const zip = new Uint8Array(await response.arrayBuffer());
    expect(String(zip.byteLength)).toBe(response.headers.get("content-length"));

    const entries = unzipSync(zip);
    const names = Object.keys(entries);
    expect(names).toHaveLength(50);
    expect(names[0]).toBe("2026-06-14_17-00-00_IMG_0001.jpg");
    expect(names[5]).toBe("2026-06-14_17-00-05_IMG_0001.jpg");
    expect(names[1]).toBe("2026-06-14_17-00-01_IMG_1001.jpg");
    for (const [i, photo] of included.entries()) {
      expect(await sha256Hex(entries[names[i]!]!), names[i]).toBe(await sha256Hex(photo.bytes));
    }
  });

  it("is organisers' only: the link is signed and an event scope applies", async () => {
    const { event_id } = await createEvent();
    const unsigned = await call(`/api/v1/files/events/${event_id}/photos.zip`);
    expect(unsigned.status).toBe(403);
    const anonymous = await call(`/api/v1/admin/events/${event_id}/download`, { method: "POST" });
    expect(anonymous.status).toBe(401);
  });
});

describe("CORS for the dashboard's origin", () => {
  it("answers preflights from the configured origin only", async () => {
    const preflight = (origin: string) =>
      call("/api/v1/admin/events", {
        method: "OPTIONS",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
      });
    const allowed = await preflight("https://dashboard.example.test");
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://dashboard.example.test");
    expect(allowed.headers.get("access-control-allow-credentials")).toBe("true");
    expect(allowed.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    const other = await preflight("https://evil.example.test");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const actual = await call("/api/v1/admin/events", { headers: { ...bootstrap, origin: "https://dashboard.example.test" } });
    expect(actual.status).toBe(200);
    expect(actual.headers.get("access-control-allow-origin")).toBe("https://dashboard.example.test");
  });
});
