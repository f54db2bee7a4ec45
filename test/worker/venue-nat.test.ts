/**
 * Venue NAT: stock tus and IETF clients send no device id, and a venue's guests share one IP
 * address (and often the same phone, so the same User-Agent). Each such upload is its own
 * device; together, one address's anonymous uploads get ANON_DEVICES_PER_ADDRESS (25) devices'
 * worth of the event's limits.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createEvent } from "./helpers";

const phone = { "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) tus-js-client/4.3.1" };
const venue = (ip: string) => ({ "cf-connecting-ip": ip, ...phone });

function tusCreate(token: string, headers: Record<string, string>) {
  return call(`/api/v1/events/${token}/tus/`, {
    method: "POST",
    headers: { "tus-resumable": "1.0.0", "upload-length": "1000", "upload-metadata": `filetype ${btoa("image/jpeg")}`, ...headers },
  });
}

function ietfCreate(token: string, headers: Record<string, string>) {
  return call(`/api/v1/events/${token}/resumable`, {
    method: "POST",
    headers: { "upload-draft-interop-version": "6", "upload-complete": "?0", "upload-length": "1000", "content-type": "image/jpeg", ...headers },
  });
}

async function refusal(response: Response) {
  return { status: response.status, ...(await response.json<{ error: { code: string; limit: string } }>()).error };
}

describe("clients without a device id behind one address", () => {
  it("ten tus clients with the same address and User-Agent all start uploads at once", async () => {
    const { join_token } = await createEvent(); // two uploads in flight per device
    const created = await Promise.all(Array.from({ length: 10 }, () => tusCreate(join_token, venue("198.51.100.7"))));
    expect(created.map((response) => response.status)).toEqual(Array(10).fill(201));
  });

  it("an address's anonymous uploads share 25 devices' worth of in-flight uploads, tus and IETF alike", async () => {
    const { join_token } = await createEvent({ max_concurrent_uploads_per_device: 1 });
    const info = await (await call(`/api/v1/events/${join_token}`)).json<{ limits: Record<string, number> }>();
    expect(info.limits).toMatchObject({ max_concurrent_anonymous_uploads_per_address: 25 });
    for (let i = 0; i < 25; i++) {
      const response = await (i % 2 ? ietfCreate : tusCreate)(join_token, venue("198.51.100.8"));
      expect(response.status, await response.clone().text()).toBe(201);
    }
    const over = await tusCreate(join_token, venue("198.51.100.8"));
    expect(await refusal(over)).toMatchObject({ status: 429, code: "upload_limit", limit: "concurrent_uploads_per_address", max_concurrent_uploads: 25 });
    // Changing the User-Agent does not buy more.
    expect((await ietfCreate(join_token, { "cf-connecting-ip": "198.51.100.8", "user-agent": "curl/8.9" })).status).toBe(429);
    // Another address, and a client that names its device, have their own limits.
    expect((await tusCreate(join_token, venue("198.51.100.9"))).status).toBe(201);
    expect((await ietfCreate(join_token, { ...venue("198.51.100.8"), "x-device-id": "my-own-phone-01" })).status).toBe(201);
  });

  it("and 25 devices' worth of the daily cap", async () => {
    const { join_token } = await createEvent({ max_concurrent_uploads_per_device: 4, daily_upload_cap_per_device: 1 });
    for (let i = 0; i < 25; i++) expect((await tusCreate(join_token, venue("198.51.100.10"))).status).toBe(201);
    expect(await refusal(await tusCreate(join_token, venue("198.51.100.10")))).toMatchObject({
      status: 429,
      code: "upload_limit",
      limit: "daily_uploads_per_address",
      daily_cap: 25,
    });
  });

  it("the anonymous id does not reveal the address", async () => {
    const { event_id, join_token } = await createEvent();
    expect((await tusCreate(join_token, venue("198.51.100.11"))).status).toBe(201);
    const row = await env.DB.prepare("SELECT device_id FROM upload_sessions WHERE event_id = ?").bind(event_id).first<{ device_id: string }>();
    expect(row!.device_id).toMatch(/^anon-[0-9a-f]{24}$/);
    const unkeyed = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("198.51.100.11")))];
    expect(row!.device_id).not.toContain(unkeyed.map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 12));
  });
});
