/**
 * D1 allows at most 100 bound parameters per statement: no admin query may depend on a list from
 * a request or a stored row staying shorter than that.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createEvent } from "./helpers";
import { seedPhotos } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  call(`/api/v1/admin${path}`, {
    method: init.method ?? "GET",
    headers: { ...bootstrap, ...init.headers },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });

/** `count` events straight into D1 (the API would take a while), newest last. */
async function seedEvents(count: number, status = "open"): Promise<string[]> {
  const ids = Array.from({ length: count }, () => crypto.randomUUID());
  await env.DB.batch(
    ids.map((id, i) =>
      env.DB.prepare(
        `INSERT INTO events (id, name, status, max_file_size, chunk_size, session_ttl_seconds, max_concurrent_per_device, daily_cap_per_device, allowed_content_types, created_at, updated_at)
         VALUES (?, ?, ?, 1000000, 5242880, 86400, 2, 100, '["image/jpeg"]', ?, ?)`,
      ).bind(id, `Seeded ${i}`, status, Date.now() + i, Date.now()),
    ),
  );
  return ids;
}

/** A token scoped to `eventIds`: through the API up to its cap of 100, beyond that as a stored row could be. */
async function scopedToken(eventIds: string[]): Promise<string> {
  const response = await admin("/tokens", { method: "POST", body: { name: "many events", event_ids: eventIds.slice(0, 100) } });
  expect(response.status).toBe(201);
  const { id, token } = await response.json<{ id: string; token: string }>();
  await env.DB.prepare("UPDATE admin_tokens SET event_ids = ? WHERE id = ?").bind(JSON.stringify(eventIds), id).run();
  return token;
}

describe("queries over lists of any length", () => {
  it.each([99, 100, 150])("a token scoped to %i events lists exactly those", async (count) => {
    const scoped = await seedEvents(count);
    const archived = await seedEvents(3, "archived");
    await seedEvents(2); // others' events
    const token = await scopedToken([...scoped, ...archived]);
    const as = { authorization: `Bearer ${token}` };

    const listed = await admin("/events", { headers: as });
    expect(listed.status, await listed.clone().text()).toBe(200);
    const { events } = await listed.json<{ events: Array<{ event_id: string }> }>();
    expect(events.map((event) => event.event_id).sort()).toEqual([...scoped].sort());

    const all = await (await admin("/events?include_archived=true", { headers: as })).json<{ events: Array<{ event_id: string }> }>();
    expect(all.events.map((event) => event.event_id).sort()).toEqual([...scoped, ...archived].sort());
    expect((await admin(`/events/${scoped.at(-1)}`, { headers: as })).status).toBe(200);
  });

  it("a status filter repeated 150 times is one filter", async () => {
    const { event_id } = await createEvent();
    await seedPhotos(event_id, 3);
    const statuses = Array.from({ length: 150 }, () => "ready").join(",");
    const photos = await admin(`/events/${event_id}/photos?status=${statuses}`);
    expect(photos.status, await photos.clone().text()).toBe(200);
    expect((await photos.json<{ photos: unknown[] }>()).photos).toHaveLength(3);
    const uploads = await admin(`/events/${event_id}/uploads?status=${Array.from({ length: 150 }, () => "completed").join(",")}`);
    expect(uploads.status, await uploads.clone().text()).toBe(200);
    expect((await uploads.json<{ uploads: unknown[] }>()).uploads).toHaveLength(3);
  });

  it("bulk moderation of 100 photos answers for each", async () => {
    const { event_id } = await createEvent();
    const prefix = await seedPhotos(event_id, 100);
    const ids = Array.from({ length: 100 }, (_, i) => `${prefix}-p-${String(i).padStart(5, "0")}`);
    const response = await admin(`/events/${event_id}/photos/bulk`, { method: "POST", body: { action: "hide", photo_ids: ids } });
    expect(response.status, await response.clone().text()).toBe(200);
    const { results } = await response.json<{ results: Array<{ ok: boolean }> }>();
    expect(results.filter((result) => result.ok)).toHaveLength(100);
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE event_id = ? AND status = 'hidden'").bind(event_id).first<{ n: number }>())!;
    expect(n).toBe(100);
  });

  it("re-driving re-queues 90 chosen photos, and every failed photo of many events at once", async () => {
    const { event_id } = await createEvent();
    const prefix = await seedPhotos(event_id, 150, { status: "failed" });
    const others = await Promise.all([createEvent(), createEvent()]);
    for (const other of others) await seedPhotos(other.event_id, 60, { status: "failed" });
    await env.DB.prepare("UPDATE photos SET processing_attempts = 3 WHERE status = 'failed'").run();

    const chosen = Array.from({ length: 90 }, (_, i) => `${prefix}-p-${String(i).padStart(5, "0")}`);
    const some = await admin(`/events/${event_id}/photos/redrive`, { method: "POST", body: { photo_ids: chosen } });
    expect(some.status, await some.clone().text()).toBe(200);
    expect((await some.json<{ requeued: number }>()).requeued).toBe(90);

    const everything = await admin("/processing/redrive", { method: "POST" });
    expect(everything.status, await everything.clone().text()).toBe(200);
    expect((await everything.json<{ requeued: number }>()).requeued).toBeGreaterThanOrEqual(60 + 2 * 60);
    for (const id of [event_id, ...others.map((other) => other.event_id)]) {
      const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE event_id = ? AND status = 'failed'").bind(id).first<{ n: number }>())!;
      expect(n).toBe(0);
    }
  });
});
