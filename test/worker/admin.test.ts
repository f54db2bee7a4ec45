import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, errorCode } from "./helpers";

const createEvent = (authorization: string | undefined, body: unknown = { name: "Gala" }) =>
  call("/api/v1/admin/events", {
    method: "POST",
    headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    body: JSON.stringify(body),
  });

describe("admin: creating events", () => {
  it("refuses missing, malformed and wrong tokens", async () => {
    for (const authorization of [undefined, "Bearer", `Basic ${env.ADMIN_TOKEN}`, "Bearer nope", `Bearer ${env.ADMIN_TOKEN}x`]) {
      const response = await createEvent(authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(await errorCode(response)).toBe("unauthorized");
    }
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM events WHERE name = 'Gala'").first<{ n: number }>())!;
    expect(n).toBe(0);
  });

  it("creates an event with defaults, overridable limits, and a join token stored only hashed", async () => {
    const response = await createEvent(`Bearer ${env.ADMIN_TOKEN}`, { name: "Gala", max_file_size: 10_000_000, chunk_size: 524288 });
    expect(response.status).toBe(201);
    const body = await response.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      name: "Gala",
      status: "open",
      max_file_size: 10_000_000,
      chunk_size: 524288,
      session_ttl_seconds: 86400,
      max_concurrent_uploads_per_device: 2,
      allowed_content_types: ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"],
    });
    expect(body.upload_url).toBe(`https://photos.test/api/v1/events/${body.join_token}/uploads`);
    const stored = await env.DB.prepare("SELECT token_hash FROM join_tokens WHERE event_id = ?")
      .bind(body.event_id)
      .first<{ token_hash: string }>();
    expect(stored!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.token_hash).not.toBe(body.join_token);
  });

  it("validates settings", async () => {
    for (const bad of [{}, { name: "" }, { name: "x", chunk_size: 1 }, { name: "x", allowed_content_types: ["text/html"] }, { name: "x", surprise: 1 }]) {
      const response = await createEvent(`Bearer ${env.ADMIN_TOKEN}`, bad);
      expect(response.status, JSON.stringify(bad)).toBe(400);
      expect(await errorCode(response)).toBe("invalid_request");
    }
  });
});
