/**
 * tus concatenation partials (tus-js-client's parallelUploads) count against the device's limits
 * until a final upload consumes them, expire like any session, and are swept.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sweep } from "../../src/jobs/sweeper";
import { call, createEvent, errorCode, fileBytes, tusFinal, tusHeaders, tusMetadata, tusPartial } from "./helpers";

function partialCreate(token: string, device: string) {
  return call(`/api/v1/events/${token}/tus/`, {
    method: "POST",
    headers: { ...tusHeaders, "upload-concat": "partial", "upload-length": "10", "upload-metadata": tusMetadata(device) },
  });
}

async function refusalLimit(response: Response) {
  return (await response.json<{ error: { code: string; limit: string } }>()).error.limit;
}

async function sessionRow(id: string) {
  return (await env.DB.prepare("SELECT status, r2_key FROM upload_sessions WHERE id = ?").bind(id).first<{ status: string; r2_key: string }>())!;
}

/** Moves a session's expiry into the past, in its Durable Object and in D1. */
async function overdue(id: string) {
  const past = Date.now() - 1000;
  await runInDurableObject(env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(id)), (_instance, state) => {
    state.storage.sql.exec("UPDATE session SET data = json_set(data, '$.expiresAt', ?)", past);
  });
  await env.DB.prepare("UPDATE upload_sessions SET expires_at = ? WHERE id = ?").bind(past, id).run();
}

describe("tus partials", () => {
  it("hold one of the device's 16 partial slots even with all their bytes in, until a final consumes them", async () => {
    const { join_token } = await createEvent();
    const device = "parallel-phone-01";
    const partials = [];
    for (let i = 0; i < 16; i++) partials.push(await tusPartial(join_token, device, fileBytes(400_000, 80 + i)));
    const over = await partialCreate(join_token, device);
    expect(over.status).toBe(429);
    expect(await refusalLimit(over)).toBe("concurrent_partials");

    const final = await tusFinal(join_token, device, partials.map((p) => p.path));
    expect(final.status, await final.clone().text()).toBe(201);
    for (const partial of partials) {
      const row = await sessionRow(partial.id);
      expect(row.status).toBe("completed");
      expect(await env.PHOTOS.head(row.r2_key)).toBeNull();
    }
    expect((await partialCreate(join_token, device)).status).toBe(201);
  });

  it("a final of small partials (one object, no multipart upload) completes with their bytes in order", async () => {
    const { join_token } = await createEvent();
    const pieces = [fileBytes(10, 92), fileBytes(1000, 93), fileBytes(7, 94)];
    const partials = [];
    for (const piece of pieces) partials.push(await tusPartial(join_token, "parallel-phone-04", piece));
    const final = await tusFinal(join_token, "parallel-phone-04", partials.map((p) => p.path));
    expect(final.status, await final.clone().text()).toBe(201);
    const { r2_key } = await sessionRow(new URL(final.headers.get("location")!).pathname.split("/").pop()!.split(".")[0]!);
    const stored = new Uint8Array(await (await env.PHOTOS.get(r2_key))!.arrayBuffer());
    expect(stored).toEqual(new Uint8Array([...pieces[0]!, ...pieces[1]!, ...pieces[2]!]));
  });

  it("a partial no final ever used is swept at its expiry, object and all", async () => {
    const { join_token } = await createEvent();
    const partial = await tusPartial(join_token, "parallel-phone-02", fileBytes(1000, 90));
    const { r2_key } = await sessionRow(partial.id);
    expect(await env.PHOTOS.head(r2_key)).not.toBeNull();
    await overdue(partial.id);
    await sweep(env);
    expect((await sessionRow(partial.id)).status).toBe("expired");
    expect(await env.PHOTOS.head(r2_key)).toBeNull();
    // A final naming it is refused.
    const final = await call(`/api/v1/events/${join_token}/tus/`, { method: "POST", headers: { ...tusHeaders, "upload-concat": `final;${partial.path}` } });
    expect(await errorCode(final)).toBe("partial_not_complete");
  });

  it("and its expiry alarm does the same without the sweeper", async () => {
    const { join_token } = await createEvent();
    const partial = await tusPartial(join_token, "parallel-phone-03", fileBytes(1000, 91));
    const { r2_key } = await sessionRow(partial.id);
    await overdue(partial.id);
    await runDurableObjectAlarm(env.UPLOAD_SESSIONS.get(env.UPLOAD_SESSIONS.idFromName(partial.id)));
    expect((await sessionRow(partial.id)).status).toBe("expired");
    expect(await env.PHOTOS.head(r2_key)).toBeNull();
  });
});
