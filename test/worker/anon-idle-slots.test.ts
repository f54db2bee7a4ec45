/**
 * Limits shared by strangers must not be something one stranger can use up: uploads without a
 * device id share their address's slots (venue NAT), so a create never sent stops holding one
 * after ANON_FIRST_BYTES_MS, and expires if its bytes come later.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ANON_FIRST_BYTES_MS, anonDevicesPerAddress } from "../../src/core/limits";
import { call, createEvent, errorCode, sessionOf } from "./helpers";

const venue = { "cf-connecting-ip": "203.0.113.50", "tus-resumable": "1.0.0" };
const createAnonymous = (token: string, agent: string) =>
  call(`/api/v1/events/${token}/tus/`, {
    method: "POST",
    // A stock tus client: no device id in its metadata.
    headers: { ...venue, "user-agent": agent, "upload-length": "2000000", "upload-metadata": `filetype ${btoa("image/jpeg")}` },
  });
const pathOf = (created: Response) => new URL(created.headers.get("location")!).pathname;
/** A tus upload's URL ends in `{upload_id}.{upload_key}`. */
const uploadIdOf = (path: string) => path.split("/").pop()!.split(".")[0]!;

/** Moves an upload's create back past the first-bytes window, in D1 and in its session. */
async function ageBeyondFirstBytes(uploadId: string) {
  const then = Date.now() - ANON_FIRST_BYTES_MS - 1000;
  await env.DB.prepare("UPDATE upload_sessions SET created_at = ? WHERE id = ?").bind(then, uploadId).run();
  await runInDurableObject(sessionOf(uploadId), (_instance, state) => {
    state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.createdAt', ?, '$.firstBytesBy', ?)", then, then + ANON_FIRST_BYTES_MS);
  });
}

describe("anonymous uploads that never send a byte", () => {
  it("one client behind the venue's address cannot take every anonymous upload slot for a day by creating uploads it never sends", async () => {
    const { join_token } = await createEvent();
    // Default event: 2 concurrent uploads per device, so 2 × ANON_DEVICES_PER_ADDRESS for the address.
    const slots = 2 * anonDevicesPerAddress(env);
    const idle: string[] = []; // their paths
    for (let i = 0; i < slots; i++) {
      const response = await createAnonymous(join_token, "greedy-script/1.0");
      expect(response.status, await response.clone().text()).toBe(201);
      idle.push(pathOf(response));
    }
    // Within the window they hold the address's slots, as any upload does.
    const tooSoon = await createAnonymous(join_token, "Mozilla/5.0 (iPhone) tus-js-client");
    expect(tooSoon.status).toBe(429);

    // Not a byte sent in ANON_FIRST_BYTES_MS (the sessions' expiry is still 24 h away).
    await Promise.all(idle.map((path) => ageBeyondFirstBytes(uploadIdOf(path))));
    const guest = await createAnonymous(join_token, "Mozilla/5.0 (iPhone) tus-js-client");
    expect(guest.status, await guest.clone().text()).toBe(201);

    // The idle ones are dead: bytes sent now would exceed the address's slots.
    const late = await call(idle[0]!, {
      method: "PATCH",
      headers: { ...venue, "upload-offset": "0", "content-type": "application/offset+octet-stream" },
      body: new Uint8Array(1000),
    });
    expect(late.status).toBe(410);
    expect(await errorCode(late)).toBe("session_expired");
  });

  it("an anonymous upload whose bytes started in time keeps its slot and takes more bytes later", async () => {
    const { join_token } = await createEvent();
    const created = await createAnonymous(join_token, "tus-js-client");
    const path = pathOf(created);
    const first = await call(path, { method: "PATCH", headers: { ...venue, "upload-offset": "0", "content-type": "application/offset+octet-stream" }, body: new Uint8Array(1000) });
    expect(first.status, await first.clone().text()).toBe(204);
    await ageBeyondFirstBytes(uploadIdOf(path));
    const next = await call(path, { method: "PATCH", headers: { ...venue, "upload-offset": "1000", "content-type": "application/offset+octet-stream" }, body: new Uint8Array(1000) });
    expect(next.status, await next.clone().text()).toBe(204);
  });
});
