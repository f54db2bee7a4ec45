/**
 * Webhook URLs that point back inside: with production's settings (WEBHOOK_INSECURE_HOSTS empty)
 * no spelling of localhost or of a private, link-local or reserved address is accepted.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ApiError } from "../../src/core/errors";
import { database } from "../../src/db/client";
import { createEndpoint } from "../../src/webhooks/endpoints";
import { createEvent, errorCode } from "./helpers";
import { admin } from "./webhook-helpers";

const production = { WEBHOOK_INSECURE_HOSTS: "" } as const;

async function refusalOf(eventId: string, url: string): Promise<string | null> {
  try {
    await createEndpoint(database(env), production, eventId, { url, description: null, eventTypes: ["photo.ready"], enabled: true });
    return null;
  } catch (error) {
    if (error instanceof ApiError) return error.code;
    throw error;
  }
}

describe("webhook URLs that reach inside (production settings)", () => {
  it.each([
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://api.localhost/hook",
    "https://127.0.0.1/hook",
    "https://127.1:8443/hook",
    "https://2130706433/hook", // 127.0.0.1 as one decimal number
    "https://0x7f000001/hook",
    "https://0177.0.0.1/hook",
    "https://0.0.0.0/hook",
    "https://10.1.2.3/hook",
    "https://172.20.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hook",
    "https://[::1]/hook",
    "https://[::]/hook",
    "https://[0:0:0:0:0:0:0:1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "https://[64:ff9b::10.0.0.1]/hook",
    "https://[2002:c0a8:101::1]/hook",
    "https://[fe80::1]/hook",
    "https://[fd00:ec2::254]/hook",
    "https://[ff02::1]/hook",
  ])("refuses %s", async (url) => {
    const { event_id } = await createEvent();
    expect(await refusalOf(event_id, url)).toBe("invalid_webhook_url");
  });

  it.each(["https://hooks.example.test/hook", "https://93.184.215.14/hook", "https://[2606:4700:4700::1111]/hook", "https://[::ffff:8.8.8.8]/hook", "https://172.32.0.1/hook"])(
    "accepts the public %s",
    async (url) => {
      const { event_id } = await createEvent();
      expect(await refusalOf(event_id, url)).toBeNull();
    },
  );

  it("the admin API refuses them, on create and on update, with nothing stored", async () => {
    const { event_id } = await createEvent();
    const created = await admin(`/events/${event_id}/webhooks`, { method: "POST", body: { url: "https://[::1]:8787/hook", event_types: ["photo.ready"] } });
    expect(await errorCode(created)).toBe("invalid_webhook_url");
    const ok = await admin(`/events/${event_id}/webhooks`, { method: "POST", body: { url: "https://hooks.example.test/hook", event_types: ["photo.ready"] } });
    const { webhook_id } = await ok.json<{ webhook_id: string }>();
    const updated = await admin(`/events/${event_id}/webhooks/${webhook_id}`, { method: "PATCH", body: { url: "https://169.254.169.254/" } });
    expect(await errorCode(updated)).toBe("invalid_webhook_url");
    const stored = await env.DB.prepare("SELECT url FROM webhook_endpoints WHERE event_id = ?").bind(event_id).all<{ url: string }>();
    expect(stored.results.map((row) => row.url)).toEqual(["https://hooks.example.test/hook"]);
  });
});
