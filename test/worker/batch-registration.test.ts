/**
 * Batch registration: limits shared by strangers are themselves something one stranger can use
 * up (issue 12). Each test plays one guest with the event's join link (printed on every table)
 * and then asks whether another guest can still upload.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { batchQuotas } from "../../src/core/batches";
import { call, createEvent } from "./helpers";

const registerBatch = (token: string, deviceId: string, files: Array<Record<string, unknown>>) =>
  call(`/api/v1/events/${token}/batches`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ device_id: deviceId, files }),
  });
const someFiles = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ client_id: `${prefix}${i}`, filename: `x${i}.jpg`, size: 1, content_type: "image/jpeg" }));

describe("attack: one guest uses up what all guests share", () => {
  it("registering never-uploaded files under made-up device ids does not lock every other guest out of batch registration", async () => {
    const { join_token } = await createEvent();
    const quotas = batchQuotas(env);
    const batchesPerDevice = quotas.perDevice / 500;
    const devices = Math.ceil(quotas.perEvent / quotas.perDevice);
    // 200 requests with the default quotas: each a fresh made-up device id, 500 one-byte files.
    for (let d = 0; d < devices; d += 5) {
      await Promise.all(
        Array.from({ length: Math.min(5, devices - d) }, async (_, k) => {
          for (let b = 0; b < batchesPerDevice; b++) {
            const response = await registerBatch(join_token, `attacker-${d + k}-device`, someFiles(500, `b${b}-`));
            expect(response.status, await response.clone().text()).toBe(201);
          }
        }),
      );
    }
    // A real guest arrives with their first photo: the guest app needs a batch to upload at all.
    const guest = await registerBatch(join_token, "honest-guest-phone", someFiles(1, "IMG_"));
    expect(guest.status, await guest.clone().text()).toBe(201);
  }, 180_000);
});
