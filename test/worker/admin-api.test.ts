import { env } from "cloudflare:workers";
import { generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { accessJwt, adminRouteTable, routeUrl, serveAccessKeys } from "./admin-helpers";
import { call, createUploadRequest, errorCode } from "./helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}` };

async function admin(path: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  return call(`/api/v1/admin${path}`, {
    method: init.method ?? "GET",
    headers: { "content-type": "application/json", ...bootstrap, ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
}

async function newEvent(settings: Record<string, unknown> = {}) {
  const response = await admin("/events", { method: "POST", body: { name: "Gala", ...settings } });
  expect(response.status, await response.clone().text()).toBe(201);
  return response.json<{ event_id: string; join_token: string; join_url: string; join_link: { id: string; qr_svg: string } }>();
}

async function newToken(body: Record<string, unknown>) {
  const response = await admin("/tokens", { method: "POST", body });
  expect(response.status).toBe(201);
  return response.json<{ id: string; token: string }>();
}

serveAccessKeys();
let foreignKey: CryptoKey;
beforeAll(async () => {
  foreignKey = (await generateKeyPair("RS256")).privateKey;
});
describe("every admin route refuses missing, wrong and expired credentials", () => {
  it("the route table is what the test walks", () => {
    expect(adminRouteTable.length).toBeGreaterThanOrEqual(11);
  });

  it.each(adminRouteTable)("$method $path", async ({ method, path }) => {
    const { event_id, join_link } = await newEvent();
    const expired = await newToken({ name: "old", expires_in_days: 1 });
    await env.DB.prepare("UPDATE admin_tokens SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, expired.id).run();
    const revoked = await newToken({ name: "gone" });
    expect((await admin(`/tokens/${revoked.id}`, { method: "DELETE" })).status).toBe(200);
    const url = routeUrl(path, { eventId: event_id, linkId: join_link.id, tokenId: revoked.id });
    const credentials: Array<[string, Record<string, string>]> = [
      ["no credentials", {}],
      ["a malformed header", { authorization: "Basic abc" }],
      ["a wrong token", { authorization: "Bearer not-the-admin-token" }],
      ["an expired token", { authorization: `Bearer ${expired.token}` }],
      ["a revoked token", { authorization: `Bearer ${revoked.token}` }],
      ["an expired Access JWT", { "cf-access-jwt-assertion": await accessJwt({ expiresIn: "-1m" }) }],
      ["an Access JWT signed by another key", { "cf-access-jwt-assertion": await accessJwt({ key: foreignKey }) }],
      ["an Access JWT for another audience", { "cf-access-jwt-assertion": await accessJwt({ audience: "other-app" }) }],
    ];
    for (const [what, headers] of credentials) {
      const response = await call(url, { method, headers: { "content-type": "application/json", ...headers }, ...(method === "GET" ? {} : { body: "{}" }) });
      expect(response.status, `${method} ${path} with ${what}`).toBe(401);
      expect(await errorCode(response)).toBe("unauthorized");
    }
  });
});

describe("admin principals", () => {
  it("a valid Cloudflare Access JWT is a global admin", async () => {
    const response = await call("/api/v1/admin/events", { headers: { "cf-access-jwt-assertion": await accessJwt() } });
    expect(response.status).toBe(200);
  });

  it("a token scoped to event A sees A, never B, and cannot use global routes", async () => {
    const a = await newEvent({ name: "A" });
    const b = await newEvent({ name: "B" });
    const { token } = await newToken({ name: "photographer", event_ids: [a.event_id] });
    const as = { authorization: `Bearer ${token}` };
    expect((await admin(`/events/${a.event_id}`, { headers: as })).status).toBe(200);
    const listed = await (await admin("/events", { headers: as })).json<{ events: Array<{ event_id: string }> }>();
    expect(listed.events.map((e) => e.event_id)).toEqual([a.event_id]);
    // Every route under an event, from the route table, against B's resources: not found, never data.
    const eventRoutes = adminRouteTable.filter((route) => route.path.includes(":eventId"));
    expect(eventRoutes.length).toBeGreaterThanOrEqual(15);
    for (const { method, path } of eventRoutes) {
      const url = routeUrl(path, { eventId: b.event_id, linkId: b.join_link.id, tokenId: "" }).replace("/api/v1/admin", "");
      const response = await admin(url, { method, headers: as, ...(method === "GET" || method === "DELETE" ? {} : { body: {} }) });
      expect(response.status, `${method} ${path}`).toBe(404);
      expect(JSON.stringify(await response.json())).not.toContain('"B"');
    }
    expect((await admin("/events", { method: "POST", headers: as, body: { name: "new" } })).status).toBe(403);
    expect((await admin("/tokens", { headers: as })).status).toBe(403);
    expect((await env.DB.prepare("SELECT name FROM events WHERE id = ?").bind(b.event_id).first())).toEqual({ name: "B" });
  });
});

describe("events", () => {
  it("lists, reads, updates and archives; archived events refuse uploads and stay archived", async () => {
    const { event_id, join_token } = await newEvent({ gallery_enabled: true });
    const updated = await admin(`/events/${event_id}`, {
      method: "PATCH",
      body: { name: "Gala 2026", moderation_mode: "review", starts_at: "2026-12-31T18:00:00Z", max_file_size: 10_000_000 },
    });
    expect(updated.status).toBe(200);
    expect(await updated.json()).toMatchObject({
      name: "Gala 2026",
      moderation_mode: "review",
      gallery_enabled: true,
      starts_at: "2026-12-31T18:00:00.000Z",
      max_file_size: 10_000_000,
    });
    expect((await createUploadRequest(join_token, { size: 10_000_001 })).status).toBe(413);

    expect((await admin(`/events/${event_id}`, { method: "PATCH", body: { status: "closed" } })).status).toBe(200);
    const closed = await createUploadRequest(join_token, { size: 1000 });
    expect(closed.status).toBe(403);
    expect(await errorCode(closed)).toBe("event_closed");

    const archived = await admin(`/events/${event_id}/archive`, { method: "POST" });
    expect(await archived.json()).toMatchObject({ status: "archived" });
    expect((await admin(`/events/${event_id}`, { method: "PATCH", body: { status: "open" } })).status).toBe(409);
    const listed = await (await admin("/events")).json<{ events: Array<{ event_id: string }> }>();
    expect(listed.events.map((e) => e.event_id)).not.toContain(event_id);
    const all = await (await admin("/events?include_archived=true")).json<{ events: Array<{ event_id: string }> }>();
    expect(all.events.map((e) => e.event_id)).toContain(event_id);
  });

  it("a scheduled upload window admits uploads only inside it", async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    const { join_token, event_id } = await newEvent({ uploads_open_at: future });
    const early = await createUploadRequest(join_token, { size: 1000 });
    expect(early.status).toBe(403);
    expect((await early.json<{ error: { uploads_open_at: string } }>()).error.uploads_open_at).toBe(future);
    const past = new Date(Date.now() - 60_000).toISOString();
    await admin(`/events/${event_id}`, { method: "PATCH", body: { uploads_open_at: past, uploads_close_at: future } });
    expect((await createUploadRequest(join_token, { size: 1000 })).status).toBe(201);
    await admin(`/events/${event_id}`, { method: "PATCH", body: { uploads_close_at: past, uploads_open_at: null } });
    expect((await createUploadRequest(join_token, { size: 1000 })).status).toBe(403);
    const inverted = await admin(`/events/${event_id}`, { method: "PATCH", body: { uploads_open_at: future, uploads_close_at: past } });
    expect(inverted.status).toBe(400);
  });
});

describe("join links", () => {
  it("several labelled, expiring, revocable links per event, each with a QR code", async () => {
    const { event_id } = await newEvent();
    const created = await admin(`/events/${event_id}/join-links`, { method: "POST", body: { label: "Table cards" } });
    expect(created.status).toBe(201);
    const link = await created.json<{ id: string; join_token: string; join_url: string; qr_svg: string; label: string }>();
    expect(link.label).toBe("Table cards");
    expect(link.join_url).toBe(`https://photos.test/join/${link.join_token}`);
    expect(link.qr_svg).toMatch(/^<svg[\s\S]*<\/svg>$/);
    expect((await createUploadRequest(link.join_token, { size: 1000 })).status).toBe(201);

    const listed = await (await admin(`/events/${event_id}/join-links`)).json<{ join_links: Array<Record<string, unknown>> }>();
    expect(listed.join_links).toHaveLength(2);
    expect(JSON.stringify(listed)).not.toContain(link.join_token);

    expect((await admin(`/events/${event_id}/join-links/${link.id}`, { method: "DELETE" })).status).toBe(200);
    const refused = await createUploadRequest(link.join_token, { size: 1000 });
    expect(refused.status).toBe(410);
    expect(await errorCode(refused)).toBe("join_link_expired");

    const soon = await (await admin(`/events/${event_id}/join-links`, { method: "POST", body: { expires_at: new Date(Date.now() + 1000).toISOString() } })).json<{ id: string; join_token: string }>();
    await env.DB.prepare("UPDATE join_tokens SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, soon.id).run();
    expect((await createUploadRequest(soon.join_token, { size: 1000 })).status).toBe(410);
  });
});

describe("admin tokens", () => {
  it("are shown once, stored hashed, listed without the secret, and stop working when revoked", async () => {
    const created = await newToken({ name: "ci script", expires_in_days: 30 });
    expect(created.token).toMatch(/^ept_/);
    const row = await env.DB.prepare("SELECT token_hash FROM admin_tokens WHERE id = ?").bind(created.id).first<{ token_hash: string }>();
    expect(row!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    const listed = await (await admin("/tokens")).text();
    expect(listed).toContain("ci script");
    expect(listed).not.toContain(created.token);
    expect((await admin("/events", { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(200);
    await admin(`/tokens/${created.id}`, { method: "DELETE" });
    expect((await admin("/events", { headers: { authorization: `Bearer ${created.token}` } })).status).toBe(401);
  });
});

