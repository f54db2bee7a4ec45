import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createEvent, errorCode } from "./helpers";
import { seedPhotos } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  call(`/api/v1/admin${path}`, { method: init.method ?? "GET", headers: bootstrap, ...(init.body ? { body: JSON.stringify(init.body) } : {}) });

describe("listing photos", () => {
  it("pages through 1,000 photos with no repeats or gaps while new photos arrive", async () => {
    const { event_id } = await createEvent();
    await seedPhotos(event_id, 1000);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await admin(`/events/${event_id}/photos?limit=37${cursor ? `&cursor=${cursor}` : ""}`);
      expect(response.status).toBe(200);
      const page = await response.json<{ photos: Array<{ photo_id: string }>; next_cursor: string | null }>();
      seen.push(...page.photos.map((p) => p.photo_id));
      cursor = page.next_cursor;
      // Photos keep arriving between pages (newer than everything already listed).
      if (pages++ % 5 === 0) await seedPhotos(event_id, 2, { from: Date.now() + pages });
    } while (cursor);
    const original = seen.filter((id) => id.includes("-p-"));
    expect(new Set(seen).size).toBe(seen.length);
    const total = (await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE event_id = ? AND created_at < ?").bind(event_id, Date.now() - 1000).first<{ n: number }>())!.n;
    expect(total).toBe(1000);
    expect(seen.length).toBeGreaterThanOrEqual(1000);
    expect(original.length).toBeGreaterThanOrEqual(1000);
    // Newest first, stable.
    const rows = await env.DB.prepare("SELECT id FROM photos WHERE event_id = ? AND id IN (SELECT value FROM json_each(?)) ORDER BY created_at DESC, id DESC")
      .bind(event_id, JSON.stringify(seen))
      .all<{ id: string }>();
    expect(rows.results.map((r) => r.id)).toEqual(seen);
  });

  it("filters by status, approval, device and time, and refuses a forged cursor", async () => {
    const { event_id } = await createEvent();
    const from = Date.UTC(2026, 5, 14, 12);
    await seedPhotos(event_id, 6, { from, device: "phone-a" });
    await seedPhotos(event_id, 3, { from, status: "failed", device: "phone-b" });
    const count = async (query: string) =>
      (await (await admin(`/events/${event_id}/photos?${query}`)).json<{ photos: unknown[] }>()).photos.length;
    expect(await count("")).toBe(9);
    expect(await count("status=failed")).toBe(3);
    expect(await count("status=ready,failed&device_id=phone-b")).toBe(3);
    expect(await count(`taken_from=${new Date(from + 2 * 60000).toISOString()}&taken_to=${new Date(from + 4 * 60000).toISOString()}`)).toBe(3 + 1);
    expect(await count("approved=true")).toBe(0);
    const bad = await admin(`/events/${event_id}/photos?cursor=bm90LWEtY3Vyc29y`);
    expect(bad.status).toBe(400);
    expect(await errorCode(bad)).toBe("invalid_cursor");
    expect((await admin(`/events/${event_id}/photos?status=nonsense`)).status).toBe(400);
  });
});

describe("moderation", () => {
  async function photoWithObjects(eventId: string, keys: { original: string; thumb: string }) {
    const prefix = await seedPhotos(eventId, 1);
    const id = `${prefix}-p-00000`;
    await env.DB.prepare("UPDATE photos SET original_key = ?, thumb_large_key = ? WHERE id = ?").bind(keys.original, keys.thumb, id).run();
    await env.PHOTOS.put(keys.original, "original");
    await env.PHOTOS.put(keys.thumb, "thumb");
    return id;
  }

  it("approve, hide, unhide and delete; delete removes the photo's objects from R2 but not ones a duplicate still uses", async () => {
    const { event_id } = await createEvent({ moderation_mode: "review" });
    const keys = { original: `uploads/${event_id}/orig-1`, thumb: `photos/${event_id}/x/thumb-1024.webp` };
    const first = await photoWithObjects(event_id, keys);
    const second = await photoWithObjects(event_id, keys);
    await env.DB.prepare("UPDATE photos SET duplicate_of = ? WHERE id = ?").bind(first, second).run();

    const approved = await admin(`/events/${event_id}/photos/${first}/approve`, { method: "POST" });
    expect(await approved.json()).toMatchObject({ status: "ready", approved: true });
    expect(await (await admin(`/events/${event_id}/photos/${first}/hide`, { method: "POST" })).json()).toMatchObject({ status: "hidden" });
    expect(await (await admin(`/events/${event_id}/photos/${first}/unhide`, { method: "POST" })).json()).toMatchObject({ status: "ready", approved: true });

    expect((await admin(`/events/${event_id}/photos/${second}`, { method: "DELETE" })).status).toBe(200);
    expect(await env.PHOTOS.head(keys.original)).not.toBeNull(); // still the first photo's
    expect((await admin(`/events/${event_id}/photos/${first}`, { method: "DELETE" })).status).toBe(200);
    expect(await env.PHOTOS.head(keys.original)).toBeNull();
    expect(await env.PHOTOS.head(keys.thumb)).toBeNull();
    expect((await admin(`/events/${event_id}/photos/${first}`)).status).toBe(404);
    const listed = await (await admin(`/events/${event_id}/photos`)).json<{ photos: Array<{ photo_id: string }> }>();
    expect(listed.photos.map((p) => p.photo_id)).not.toContain(first);
  });

  it("bulk actions report each photo's outcome; one refusal does not stop the rest", async () => {
    const { event_id } = await createEvent();
    const ready = await seedPhotos(event_id, 3);
    const processing = await seedPhotos(event_id, 1, { status: "processing" });
    const ids = [`${ready}-p-00000`, `${ready}-p-00001`, `${processing}-p-00000`, `${ready}-p-00002`];
    const response = await admin(`/events/${event_id}/photos/bulk`, { method: "POST", body: { action: "approve", photo_ids: ids } });
    const { results } = await response.json<{ results: Array<{ photo_id: string; ok: boolean; error?: { code: string } }> }>();
    expect(results.map((r) => r.ok)).toEqual([true, true, false, true]);
    expect(results[2]!.error!.code).toBe("photo_not_ready");
    expect((await admin(`/events/${event_id}/photos?approved=true`).then((r) => r.json<{ photos: unknown[] }>())).photos).toHaveLength(3);
  });
});
