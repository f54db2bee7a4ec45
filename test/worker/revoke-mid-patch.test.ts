/**
 * Closing an event stops uploads in flight, including one long streamed tus PATCH (tus-js-client
 * sends the whole file in one by default): admission is checked again before each piece commits.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createEvent, fileBytes, MiB, recheckAdmissionEveryTime, tusHeaders } from "./helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };

recheckAdmissionEveryTime();

describe("closing an event during one long PATCH", () => {
  it("bytes that arrive after the event is closed are not committed", async () => {
    const { event_id, join_token } = await createEvent();
    const file = fileBytes(6 * MiB, 31);
    const created = await call(`/api/v1/events/${join_token}/tus/`, {
      method: "POST",
      headers: { ...tusHeaders, "upload-length": String(file.byteLength), "upload-metadata": `filetype ${btoa("image/jpeg")},device_id ${btoa("long-patch-phone")}` },
    });
    expect(created.status).toBe(201);
    const path = new URL(created.headers.get("location")!).pathname;

    let release!: () => void;
    const closed = new Promise<void>((resolve) => (release = resolve));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 2 * MiB) await closed; // the organiser closes the event here
        if (sent === file.byteLength) return controller.close();
        controller.enqueue(file.slice(sent, sent + MiB));
        sent += MiB;
      },
    });
    const patching = call(path, {
      method: "PATCH",
      headers: { ...tusHeaders, "upload-offset": "0", "content-type": "application/offset+octet-stream" },
      body,
      duplex: "half",
    } as RequestInit);

    // Wait until the first pieces are committed, then close the event and let the rest flow.
    for (let i = 0; i < 100; i++) {
      const head = await call(path, { method: "HEAD", headers: tusHeaders });
      if (Number(head.headers.get("upload-offset")) >= MiB) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const close = await call(`/api/v1/admin/events/${event_id}`, { method: "PATCH", headers: bootstrap, body: JSON.stringify({ status: "closed" }) });
    expect(close.status).toBe(200);
    const closedAt = Number((await call(path, { method: "HEAD", headers: tusHeaders })).headers.get("upload-offset"));
    release();
    const response = await patching;
    const answer = `PATCH answered ${response.status} ${await response.text()}`;
    expect(answer).toContain("event_closed");

    const after = Number((await call(path, { method: "HEAD", headers: tusHeaders })).headers.get("upload-offset"));
    // At most the piece that was already arriving when the event closed.
    expect(after - closedAt, answer).toBeLessThanOrEqual(MiB);
    expect(after).toBeLessThan(file.byteLength);
  }, 60_000);
});
