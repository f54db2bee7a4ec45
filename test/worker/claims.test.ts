/** Claims ("my uploads on any phone") against the people who would abuse them. */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, errorCode, newDevice, sha256Hex } from "./helpers";
import { deliver, seedPhotos, uploadPhoto } from "./photo-helpers";

const venue = { "cf-connecting-ip": "198.51.100.20", "user-agent": "tus-js-client/4.3.1" };

/** A stock tus client's create (no device id): its upload id and key, from the upload URL. */
async function anonymousTusUpload(token: string) {
  const response = await call(`/api/v1/events/${token}/tus/`, {
    method: "POST",
    headers: { "tus-resumable": "1.0.0", "upload-length": "1000", "upload-metadata": `filetype ${btoa("image/jpeg")}`, ...venue },
  });
  expect(response.status).toBe(201);
  const [id, key] = response.headers.get("location")!.split("/").pop()!.split(".");
  return { id: id!, key: key! };
}

describe("claims and anonymous uploads", () => {
  it("makes no claim on an upload without a device id, which would open every guest's photos behind the same address", async () => {
    const event = await createEvent();
    const first = await anonymousTusUpload(event.join_token);
    const anonymousId = await env.DB.prepare("SELECT device_id FROM upload_sessions WHERE id = ?").bind(first.id).first<string>("device_id");
    // Another guest on the venue's wifi already has photos under the same anonymous id.
    await seedPhotos(event.event_id, 2, { device: anonymousId! });

    const attacker = await anonymousTusUpload(event.join_token);
    const made = await call(`/api/v1/events/${event.join_token}/claims`, {
      method: "POST",
      headers: { "content-type": "application/json", "upload-key": attacker.key, ...venue },
      body: JSON.stringify({ upload_id: attacker.id }),
    });
    expect(made.status).toBe(409);
    expect(await errorCode(made)).toBe("claim_needs_device_id");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM claims WHERE event_id = ?").bind(event.event_id).first("n")).toBe(0);
  });
});

describe("a revoked claim", () => {
  it("stops the file URLs it handed out at once, not when they expire", async () => {
    const event = await createEvent();
    const mine = await uploadPhoto(makeJpeg({ width: 64, height: 48 }), { token: event.join_token, extra: { device_id: newDevice() } });
    await deliver([mine.job]);
    const made = await call(`/api/v1/events/${event.join_token}/claims`, {
      method: "POST",
      headers: { "content-type": "application/json", "upload-key": mine.upload.key },
      body: JSON.stringify({ upload_id: mine.upload.id }),
    });
    const claim = await made.json<{ claim_id: string; code: string }>();
    const page = await (await call(`/api/v1/events/${event.join_token}/claims/photos`, { headers: { "claim-code": claim.code } })).json<{
      photos: Array<{ urls: { thumb_256: string; scrubbed: string } }>;
    }>();
    const urls = [page.photos[0]!.urls.thumb_256, page.photos[0]!.urls.scrubbed].map((url) => new URL(url));
    for (const url of urls) expect((await call(url.pathname + url.search)).status).toBe(200);

    // The code leaked; the organiser withdraws it.
    const revoked = await call(`/api/v1/admin/events/${event.event_id}/claims/${claim.claim_id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` },
    });
    expect(revoked.status).toBe(200);
    for (const url of urls) expect((await call(url.pathname + url.search)).status).toBe(404);
  });
});

describe("wrong claim codes", () => {
  it("are counted against the address without storing anything that gives the address back", async () => {
    const event = await createEvent();
    const address = "203.0.113.77";
    const guessed = await call(`/api/v1/events/${event.join_token}/claims/photos`, { headers: { "claim-code": "2222-2222", "cf-connecting-ip": address } });
    expect(await errorCode(guessed)).toBe("invalid_claim_code");
    const stored = await env.DB.prepare("SELECT address_hash FROM claim_guesses WHERE event_id = ?").bind(event.event_id).first<string>("address_hash");
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    // A plain SHA-256 of an IPv4 address is undone by hashing all 2^32 of them.
    expect(stored).not.toBe(await sha256Hex(new TextEncoder().encode(address)));
  });
});
