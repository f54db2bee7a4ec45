/**
 * A create that reads the link, event and batch file afresh (core/admission.ts) while an
 * organiser or the guest's other tab changes one of them before its insert runs: the insert
 * refuses it, and the guest is told the real reason (or admitted, when nothing refuses it), never
 * that a limit of theirs is reached: the guest's app gives up on a file refused by a limit.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { database } from "../../src/db/client";
import { revokeJoinLink, updateEvent } from "../../src/admin/events";
import { withdrawBatchFile } from "../../src/core/batches";
import { call, createEvent, createUploadRequest, errorCode, newDevice, registerOneFile } from "./helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * Runs `changes[i]` just before the create's i-th D1 batch (its insert's), as if made by another
 * request at that moment; a create's first batch is its fast path's when the isolate remembers the link.
 */
function beforeInserts(...changes: Array<() => Promise<unknown>>) {
  const batch = env.DB.batch.bind(env.DB);
  vi.spyOn(env.DB, "batch").mockImplementation(async (statements) => {
    await changes.shift()?.();
    return batch(statements);
  });
}

describe("a change made while a create reads afresh", () => {
  it("to the event, unrelated to limits, does not refuse the create", async () => {
    const { event_id, join_token } = await createEvent();
    // The isolate has never read this link: the create reads it, then inserts.
    beforeInserts(() => updateEvent(database(env), event_id, { name: "Renamed" }));
    const create = await createUploadRequest(join_token, { size: 1000 });
    expect(create.status, await create.clone().text()).toBe(201);
  });

  it("revoking the link refuses the create as revoked", async () => {
    const { event_id, join_token } = await createEvent();
    const [link] = await env.DB.prepare("SELECT id FROM join_tokens WHERE event_id = ?").bind(event_id).raw<[string]>();
    beforeInserts(() => revokeJoinLink(database(env), event_id, link![0]));
    const create = await createUploadRequest(join_token, { size: 1000 });
    expect([create.status, await errorCode(create)]).toEqual([410, "join_link_expired"]);
  });

  it("withdrawing the batch file refuses the create as withdrawn", async () => {
    const { event_id, join_token } = await createEvent();
    const device = newDevice();
    const batch = await registerOneFile(join_token, device);
    beforeInserts(
      // The remembered event is out of date: the fast path's insert is refused, and the create reads afresh.
      () => updateEvent(database(env), event_id, { name: "Renamed" }),
      () => withdrawBatchFile(env, join_token, batch.batch_id, batch.fileId, batch.batch_key, "cancelled"),
    );
    const create = await call(`/api/v1/events/${join_token}/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json", "batch-key": batch.batch_key },
      body: JSON.stringify({ filename: "a.jpg", size: 1000, content_type: "image/jpeg", device_id: device, batch_id: batch.batch_id, batch_file_id: batch.fileId }),
    });
    expect([create.status, await errorCode(create)]).toEqual([409, "batch_file_withdrawn"]);
  });
});
