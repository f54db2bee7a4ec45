/** What operators see: metrics in Analytics Engine, and log lines that never carry secrets. */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { errorFields, logLine } from "../../src/lib/log";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent, errorCode, sendInChunks, startUpload, uploadCall } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };

afterEach(() => vi.restoreAllMocks());

/** Every line the Worker and its Durable Objects log while `work` runs. */
async function capturedLogs(work: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  for (const level of ["log", "warn", "error", "info", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  }
  await work();
  vi.restoreAllMocks();
  return lines;
}

describe("metrics", () => {
  it("records uploads created and completed, photos processed and refused requests, without secrets", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    vi.spyOn(env.METRICS, "writeDataPoint").mockImplementation((point) => void points.push(point!));
    const event = await createEvent();
    const bytes = makeJpeg({ width: 200, height: 100 });
    const { job, upload } = await uploadPhoto(bytes, { token: event.join_token });
    await deliver([job]);
    const refused = await uploadCall({ ...upload, key: "wrong" }, "GET");
    expect(refused.status).toBe(401);

    const named = (name: string) => points.filter((point) => point.blobs?.[0] === name);
    expect(named("upload_created").at(-1)).toMatchObject({ indexes: [event.event_id], blobs: ["upload_created", event.event_id, "", ""], doubles: [bytes.byteLength, 0] });
    const completed = named("upload_completed").at(-1)!;
    expect(completed.blobs?.[1]).toBe(event.event_id);
    expect(completed.doubles?.[0]).toBe(bytes.byteLength);
    expect(completed.doubles?.[1]).toBeGreaterThanOrEqual(0);
    expect(named("photo_processed").at(-1)).toMatchObject({ blobs: ["photo_processed", event.event_id, "ready", ""] });
    expect(named("request_error").at(-1)).toMatchObject({ blobs: ["request_error", "", "invalid_upload_key", "/api/v1/events/:token/uploads/:id"] });
    expect(JSON.stringify(points)).not.toContain(upload.key);
    expect(JSON.stringify(points)).not.toContain(event.join_token);
  });
});

describe("logs", () => {
  it("carry a request id that the error response repeats", async () => {
    let requestId = "";
    const lines = await capturedLogs(async () => {
      const response = await call("/api/v1/events/no-such-token-at-all/uploads", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      requestId = (await response.json<{ error: { request_id: string } }>()).error.request_id;
      expect(response.headers.get("x-request-id")).toBe(requestId);
    });
    const line = lines.map((text) => JSON.parse(text)).find((entry) => entry.request_id === requestId);
    expect(line).toMatchObject({ msg: "request", method: "POST", route: "/api/v1/events/:token/uploads", status: 400 });
  });

  it("never contain a join token, upload key, admin token, Access JWT or GPS coordinate", async () => {
    const secrets: string[] = [env.ADMIN_TOKEN];
    const lines = await capturedLogs(async () => {
      const event = await createEvent({ keep_gps: true });
      secrets.push(event.join_token);
      const created = await call("/api/v1/admin/tokens", { method: "POST", headers: bootstrap, body: JSON.stringify({ name: "photographer" }) });
      const { token } = await created.json<{ token: string }>();
      secrets.push(token);
      expect((await call("/api/v1/admin/events", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect((await call("/api/v1/admin/events", { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
      expect((await call("/api/v1/admin/events", { headers: { "cf-access-jwt-assertion": "eyJhbGciOiJIUzI1NiJ9.e30.c2VjcmV0" } })).status).toBe(401);

      // A photo with GPS, kept for organisers: the coordinates are in D1, never in a log line.
      const bytes = makeJpeg({ width: 120, height: 90, exif: { gps: { latitude: 48.858222, longitude: -2.2945 } } });
      const { job, upload } = await uploadPhoto(bytes, { token: event.join_token });
      secrets.push(upload.key);
      await deliver([job]);
      const row = await env.DB.prepare("SELECT gps_latitude FROM photos WHERE id = ?").bind(job.photoId).first<{ gps_latitude: number }>();
      expect(row!.gps_latitude).toBeCloseTo(48.858222, 4);
      expect(await errorCode(await uploadCall({ ...upload, key: `${upload.key}x` }, "GET"))).toBe("invalid_upload_key");

      // tus carries the key in its URL.
      const tus = await call(`/api/v1/events/${event.join_token}/tus/`, {
        method: "POST",
        headers: { "tus-resumable": "1.0.0", "upload-length": "300000", "upload-metadata": `filename ${btoa("a.jpg")},filetype ${btoa("image/jpeg")}` },
      });
      expect(tus.status).toBe(201);
      secrets.push(tus.headers.get("location")!.split(".").pop()!);

      const chunked = await startUpload(event.join_token, 300_000);
      secrets.push(chunked.key);
      await sendInChunks(chunked, new Uint8Array(300_000), [300_000]);
    });
    expect(lines.length).toBeGreaterThan(10);
    const all = lines.join("\n");
    for (const secret of secrets) expect(all.includes(secret), `a log line contains ${secret.slice(0, 6)}…`).toBe(false);
    expect(all).not.toMatch(/48\.858|2\.2945/);
    expect(all).not.toContain("eyJhbGciOiJIUzI1NiJ9");
  });

  it("log a database error by its code, never with the values it was bound to", async () => {
    const distinctive = `Gala of ${crypto.randomUUID()}`;
    // A trigger makes the insert of this one event fail inside D1, after the values were bound.
    await env.DB.prepare(
      `CREATE TRIGGER refuse_distinctive BEFORE INSERT ON events WHEN NEW.name = '${distinctive}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`,
    ).run();
    let requestId = "";
    const lines = await capturedLogs(async () => {
      const response = await call("/api/v1/admin/events", { method: "POST", headers: bootstrap, body: JSON.stringify({ name: distinctive }) });
      expect(response.status).toBe(500);
      const body = await response.json<{ error: { code: string; request_id: string } }>();
      expect(body.error.code).toBe("internal_error");
      requestId = body.error.request_id;
    }).finally(() => env.DB.prepare("DROP TRIGGER refuse_distinctive").run());
    expect(lines.join("\n")).not.toContain(distinctive);
    const logged = lines.map((text) => JSON.parse(text)).find((entry) => entry.msg === "unhandled_error" && entry.request_id === requestId);
    expect(logged).toMatchObject({ level: "error", db_code: "SQLITE_CONSTRAINT" });
    expect(logged.error_class).toMatch(/Error/);
    expect(logged.stack).toMatch(/^at /);
    expect(JSON.stringify(logged)).not.toMatch(/params|insert into/i);
  });

  it("cut the bound values off a database error's message wherever it is logged, and keep messages out of error fields", async () => {
    const secret = `key-${crypto.randomUUID()}`;
    const failed = new Error(`Failed query: select * from upload_sessions where upload_key_hash = ?\nparams: ${secret}\n    at ${secret}`);
    const lines = await capturedLogs(async () => {
      logLine("error", "job", { reason: failed.message });
      logLine("error", "job", errorFields(failed));
    });
    expect(lines).toHaveLength(2);
    expect(lines.join("\n")).not.toContain(secret);
    expect(JSON.parse(lines[0]!).reason).toMatch(/^Failed query: select/);
    expect(JSON.parse(lines[1]!)).toMatchObject({ error_class: "Error", stack: expect.stringMatching(/^at /) });
  });

  it("never carry a join token or upload key from a URL, whatever the request hit", async () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const event = await createEvent();
    const upload = await startUpload(event.join_token, 1000);
    const capability = `${upload.id}.${upload.key}`;
    const lines = await capturedLogs(async () => {
      vi.spyOn(env.METRICS, "writeDataPoint").mockImplementation((point) => void points.push(point!));
      const urls = [
        `/api/v1/events/${event.join_token}/tus/${capability}`,
        `/api/v1/events/${event.join_token}/tus/${capability}/nothing-here`,
        `/api/v1/events/${event.join_token}/resumable/${capability}`,
        `/api/v1/events/${event.join_token}/uploads/${upload.id}/nowhere`,
        `/api/v1/events/${event.join_token}x/uploads`,
        `/api/v1/${event.join_token}/${upload.key}`,
      ];
      for (const url of urls) {
        for (const method of ["GET", "HEAD", "PATCH", "DELETE", "POST"]) {
          const response = await call(url, { method, headers: { "tus-resumable": "1.0.0", "upload-offset": "0", "content-type": "application/offset+octet-stream" }, ...(method === "PATCH" || method === "POST" ? { body: "x" } : {}) });
          await response.arrayBuffer();
        }
      }
    });
    expect(points.length).toBeGreaterThan(0);
    const written = [...lines, JSON.stringify(points)].join("\n");
    for (const secret of [event.join_token, upload.key]) expect(written.includes(secret), `${secret.slice(0, 6)}… was logged`).toBe(false);
  });
});
