import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { accessJwt, serveAccessKeys } from "./admin-helpers";
import { call, createEvent, errorCode, MiB, sendChunk, startUpload, fileBytes } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";
import { listen, ticket, upgrade } from "./live-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
serveAccessKeys();

describe("the live channel", () => {
  it("tells a connected dashboard about upload progress, a new photo, processing and moderation", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    await live.next((m) => m.type === "hello" && m.event_id === event.event_id, "hello");

    // Progress of an upload in flight.
    const bytes = fileBytes(3 * MiB, 7);
    const upload = await startUpload(event.join_token, bytes.byteLength, { filename: "progress.jpg" });
    expect((await sendChunk(upload, bytes, 0, MiB)).status).toBe(204);
    const progress = await live.next((m) => m.upload?.upload_id === upload.id, "upload progress");
    expect(progress.upload).toMatchObject({ status: "uploading", received_bytes: MiB, total_size: 3 * MiB, filename: "progress.jpg" });

    // A photo: created (processing), then ready with its thumbnail URL.
    const uploaded = await uploadPhoto(makeJpeg({ width: 160, height: 120 }), { token: event.join_token });
    await live.next((m) => m.upload?.upload_id === uploaded.upload.id && m.upload.status === "completed", "upload completed");
    await live.next((m) => m.photo?.photo_id === uploaded.photoId && m.photo.status === "processing", "new photo");
    await deliver([uploaded.job]);
    const ready = await live.next((m) => m.photo?.photo_id === uploaded.photoId && m.photo.status === "ready", "photo ready");
    expect(ready.photo!.urls.thumb_256).toMatch(/^https:\/\/photos\.test\/api\/v1\/files\/photos\//);

    const hide = await call(`/api/v1/admin/events/${event.event_id}/photos/${uploaded.photoId}/hide`, { method: "POST", headers: bootstrap });
    expect(hide.status).toBe(200);
    await live.next((m) => m.photo?.photo_id === uploaded.photoId && m.photo.status === "hidden", "photo hidden");

    // Keep-alive pings are answered.
    live.socket.send("ping");
    for (let waited = 0; !live.texts.includes("pong") && waited < 2000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(live.texts).toContain("pong");
    live.socket.close(1000, "done");
  });

  it("hears only its own event", async () => {
    const [mine, other] = await Promise.all([createEvent(), createEvent()]);
    const live = await listen(await ticket(mine.event_id));
    const uploaded = await uploadPhoto(makeJpeg({ width: 100, height: 80 }), { token: other.join_token });
    const own = await uploadPhoto(makeJpeg({ width: 100, height: 80 }), { token: mine.join_token });
    await live.next((m) => m.photo?.photo_id === own.photoId, "own photo");
    expect(live.messages.some((m) => m.photo?.photo_id === uploaded.photoId || m.upload?.upload_id === uploaded.upload.id)).toBe(false);
    live.socket.close(1000, "done");
  });

  it("admits scripts with credentials on the upgrade, and refuses tampered tickets and anonymous upgrades", async () => {
    const event = await createEvent();
    const direct = await listen(`https://photos.test/api/v1/admin/events/${event.event_id}/live`, bootstrap);
    await direct.next((m) => m.type === "hello", "hello");
    direct.socket.close(1000, "done");

    const url = new URL((await ticket(event.event_id)).replace(/^wss/, "https"));
    const otherEvent = await createEvent();
    const bent = await call(url.pathname.replace(event.event_id, otherEvent.event_id) + url.search, { headers: { upgrade: "websocket" } });
    expect(bent.status).toBe(403);
    expect(await errorCode(bent)).toBe("invalid_signature");
    const anonymous = await call(`/api/v1/admin/events/${event.event_id}/live`, { headers: { upgrade: "websocket" } });
    expect(anonymous.status).toBe(401);
    const plain = await call(url.pathname + url.search);
    expect(plain.status).toBe(426);
  });
});

describe("live tickets and sockets end with the credential behind them", () => {
  const hubOf = (eventId: string) => env.EVENT_HUBS.get(env.EVENT_HUBS.idFromName(eventId));

  async function newToken(eventIds?: string[]) {
    const response = await call("/api/v1/admin/tokens", {
      method: "POST",
      headers: { ...bootstrap, "content-type": "application/json" },
      body: JSON.stringify({ name: "photographer", event_ids: eventIds }),
    });
    expect(response.status).toBe(201);
    return response.json<{ id: string; token: string }>();
  }
  const revoke = async (tokenId: string) => expect((await call(`/api/v1/admin/tokens/${tokenId}`, { method: "DELETE", headers: bootstrap })).status).toBe(200);

  it("a ticket opens one socket; a second use, a ticket moved to another event and a ticketless URL are refused", async () => {
    const [event, other] = await Promise.all([createEvent(), createEvent()]);
    const url = await ticket(event.event_id);
    const first = await listen(url);
    await first.next((m) => m.type === "hello", "hello");
    const again = await upgrade(url);
    expect(again.status).toBe(410);
    expect(await errorCode(again)).toBe("ticket_used");

    // A valid signed URL for another event with this event's ticket: that event's hub never issued it.
    const fresh = new URL((await ticket(event.event_id)).replace(/^wss/, "https"));
    const otherUrl = new URL((await ticket(other.event_id)).replace(/^wss/, "https"));
    otherUrl.searchParams.set("ticket", fresh.searchParams.get("ticket")!);
    expect(await errorCode(await upgrade(otherUrl.href))).toBe("ticket_used");
    fresh.searchParams.delete("ticket");
    expect(await errorCode(await upgrade(fresh.href))).toBe("ticket_used");
    first.socket.close(1000, "done");
  });

  it("a ticket redeemed twice at the same moment opens one socket", async () => {
    const event = await createEvent();
    const url = await ticket(event.event_id);
    const responses = await Promise.all([upgrade(url), upgrade(url), upgrade(url)]);
    expect(responses.map((response) => response.status).sort()).toEqual([101, 410, 410]);
    for (const response of responses) {
      response.webSocket?.accept();
      response.webSocket?.close(1000, "done");
    }
  });

  it("tickets never used are forgotten once expired, and an idle hub stops checking", async () => {
    const event = await createEvent();
    const hub = hubOf(event.event_id);
    await hub.issueTicket("0".repeat(64), { credential: { kind: "bootstrap", tokenHash: "1".repeat(64) }, expiresAt: Date.now() - 1 });
    expect(await runDurableObjectAlarm(hub)).toBe(true);
    const left = await runInDurableObject(hub, async (_hub, state) => ({ tickets: (await state.storage.list({ prefix: "ticket:" })).size, alarm: await state.storage.getAlarm() }));
    expect(left).toEqual({ tickets: 0, alarm: null });
  });

  it("a ticket whose token was revoked before it was used opens nothing", async () => {
    const event = await createEvent();
    const token = await newToken([event.event_id]);
    const url = await ticket(event.event_id, { authorization: `Bearer ${token.token}` });
    await revoke(token.id);
    const refused = await upgrade(url);
    expect(refused.status).toBe(401);
    expect(await errorCode(refused)).toBe("unauthorized");
  });

  it("open sockets close at the next check once their token is revoked or expires; others stay open", async () => {
    const event = await createEvent();
    const [revoked, expiring] = await Promise.all([newToken([event.event_id]), newToken()]);
    const byTicket = await listen(await ticket(event.event_id, { authorization: `Bearer ${revoked.token}` }));
    const direct = await listen(`https://photos.test/api/v1/admin/events/${event.event_id}/live`, { authorization: `Bearer ${expiring.token}` });
    const bootstrapped = await listen(await ticket(event.event_id));
    for (const live of [byTicket, direct, bootstrapped]) await live.next((m) => m.type === "hello", "hello");

    // The check runs at least once a minute while sockets are open.
    const alarm = await runInDurableObject(hubOf(event.event_id), (_hub, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm! - Date.now()).toBeLessThanOrEqual(60_000);

    await revoke(revoked.id);
    await env.DB.prepare("UPDATE admin_tokens SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, expiring.id).run();
    expect(await runDurableObjectAlarm(hubOf(event.event_id))).toBe(true);
    expect(await byTicket.closed).toEqual({ code: 4401, reason: "credential_revoked" });
    expect(await direct.closed).toEqual({ code: 4401, reason: "credential_expired" });

    // The bootstrap token's socket is still live, and the check is armed again for it.
    await uploadPhoto(makeJpeg({ width: 100, height: 80 }), { token: event.join_token });
    await bootstrapped.next((m) => m.type === "photo", "a photo after the check");
    expect(await runInDurableObject(hubOf(event.event_id), (_hub, state) => state.storage.getAlarm())).not.toBeNull();
    bootstrapped.socket.close(1000, "done");
  });

  it("a socket opened with the bootstrap token closes once ADMIN_TOKEN is rotated", async () => {
    const event = await createEvent();
    const live = await listen(await ticket(event.event_id));
    await live.next((m) => m.type === "hello", "hello");
    const original = env.ADMIN_TOKEN;
    try {
      (env as { ADMIN_TOKEN: string }).ADMIN_TOKEN = "a-rotated-admin-token";
      expect(await runDurableObjectAlarm(hubOf(event.event_id))).toBe(true);
    } finally {
      (env as { ADMIN_TOKEN: string }).ADMIN_TOKEN = original;
    }
    expect(await live.closed).toEqual({ code: 4401, reason: "credential_revoked" });
  });

  it("a socket opened with a Cloudflare Access JWT closes once the JWT expires", async () => {
    const event = await createEvent();
    const expiresAt = Math.floor(Date.now() / 1000) + 2;
    const live = await listen(await ticket(event.event_id, { "cf-access-jwt-assertion": await accessJwt({ expiresIn: expiresAt }) }));
    await live.next((m) => m.type === "hello", "hello");
    expect(await runDurableObjectAlarm(hubOf(event.event_id))).toBe(true);
    expect(live.socket.readyState).toBe(WebSocket.OPEN);
    await new Promise((resolve) => setTimeout(resolve, expiresAt * 1000 - Date.now() + 50));
    expect(await runDurableObjectAlarm(hubOf(event.event_id))).toBe(true);
    expect(await live.closed).toEqual({ code: 4401, reason: "credential_expired" });
  });

  it("upgrades from another site are refused, from the dashboard's origin admitted", async () => {
    const event = await createEvent();
    const url = await ticket(event.event_id);
    const foreign: Array<Record<string, string>> = [{ origin: "https://evil.example" }, { "sec-fetch-site": "cross-site", "sec-fetch-mode": "websocket" }];
    for (const headers of foreign) {
      const refused = await upgrade(url, headers);
      expect(refused.status).toBe(403);
      expect(await errorCode(refused)).toBe("origin_not_allowed");
    }
    // The refusals did not spend the ticket.
    const live = await listen(url, { origin: env.DASHBOARD_ORIGINS });
    await live.next((m) => m.type === "hello", "hello");
    live.socket.close(1000, "done");
  });
});
