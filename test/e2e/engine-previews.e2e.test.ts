/**
 * Preview first in the upload engine (web/engine/preview-first.ts), in plain Node against a fake
 * guest API that keeps the server's slot rule: at most two sessions in flight per device, where a
 * session holding only its preview counts for none.
 */
import { describe, expect, it } from "vitest";
import { UploadEngine } from "../../web/engine/engine.ts";
import { previewSizes, type PreviewSize } from "../../web/engine/preview-sizes.ts";

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** A guest API in memory; `calls` lists what reached it, in order ("create a.jpg", "preview a.jpg", "chunk a.jpg", ...). */
function fakeServer(previewBytesPerSecond = Infinity) {
  const calls: string[] = [];
  let link: Promise<unknown> = Promise.resolve();
  const sessions = new Map<string, { fileId: string; file: string; size: number; offset: number; preview: boolean; done: boolean }>();
  const inFlight = () => [...sessions.values()].filter((s) => !s.done && (s.offset > 0 || !s.preview)).length;
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const path = new URL(String(input)).pathname.replace(/^\/api\/v1\/events\/[^/]+/, "");
    const route = `${init?.method ?? "GET"} ${path}`;
    const body = () => JSON.parse(String(init!.body)) as Record<string, unknown>;
    if (route === "POST /batches") {
      const files = body().files as Array<{ client_id: string }>;
      return json(201, { batch_id: "batch", batch_key: "key", event_id: "event", files: files.map((f, i) => ({ client_id: f.client_id, file_id: `file-${i}`, state: "waiting", error: null })) });
    }
    if (route === "POST /uploads") {
      if (inFlight() >= 2) return json(429, { error: { code: "upload_limit", message: "at most 2 uploads in progress", limit: "concurrent_uploads" } });
      const { batch_file_id, filename, size } = body() as { batch_file_id: string; filename: string; size: number };
      const id = `upload-${sessions.size}`;
      sessions.set(id, { fileId: batch_file_id, file: filename, size, offset: 0, preview: false, done: false });
      calls.push(`create ${filename}`);
      return json(201, { upload_id: id, upload_key: "k".repeat(20), chunk_size: 5 * 1024 * 1024, expires_at: new Date(Date.now() + 60_000).toISOString(), event_id: "event" });
    }
    const [, id, action] = path.match(/^\/uploads\/([^/]+)\/?(\w*)$/) ?? [];
    const session = sessions.get(id ?? "");
    if (session && route.startsWith("PUT") && action === "preview") {
      expect(new Headers(init!.headers).get("content-type")).toBe("image/webp");
      // The link, shared: previews cross it one after another, each taking as long as its bytes need at this rate.
      if (previewBytesPerSecond !== Infinity) {
        const bytes = (init!.body as Blob).size;
        const crossed = link.then(() => new Promise((resolve) => setTimeout(resolve, (bytes * 1000) / previewBytesPerSecond)));
        link = crossed;
        await crossed;
      }
      session.preview = true;
      calls.push(`preview ${session.file}`);
      return json(201, { photo_id: `photo-${id}`, status: "preview" });
    }
    if (session && route.startsWith("PUT") && action === "chunk") {
      const range = new Headers(init!.headers).get("content-range")!.match(/bytes (\d+)-(\d+)\//)!;
      session.offset = Number(range[2]) + 1;
      calls.push(`chunk ${session.file}`);
      return new Response(null, { status: 204, headers: { "upload-offset": String(session.offset) } });
    }
    if (session && route.startsWith("POST") && action === "complete") {
      session.done = true;
      return json(201, { photo_id: `photo-${id}`, file_path: "/p", thumbnail_path: null, status: "processing" });
    }
    if (session && route.startsWith("GET") && !action) {
      return json(200, { upload_id: id, status: session.offset ? "uploading" : "pending", received_bytes: session.offset, total_size: session.size, chunk_size: 5 * 1024 * 1024, expires_at: new Date().toISOString(), photo_id: null, partial: false });
    }
    if (route === "GET /batches/batch") {
      const files = [...sessions.values()].map((s) => ({ file_id: s.fileId, state: s.done ? "done" : "uploading", photo_id: null, error: null }));
      return json(200, { batch_id: "batch", files });
    }
    return json(404, { error: { code: "not_found", message: route } });
  };
  return { calls, fetch };
}

const picked = (name: string, type = "image/jpeg") => new File([new Uint8Array(1000).fill(name.length)], name, { type, lastModified: 1 });

describe("preview first", () => {
  it("sends every picked file's preview before any original's bytes, within the device's two upload slots", async () => {
    const server = fakeServer();
    const made: string[] = [];
    const previews = async (file: File) => {
      made.push(file.name);
      // HEIC the browser cannot decode: no preview, and its original goes as usual.
      return file.type === "image/heic" ? null : new Blob([new Uint8Array(100)], { type: "image/webp" });
    };
    const engine = await UploadEngine.open({ origin: "https://photos.example", joinToken: "join", fetch: server.fetch, previews, processingPoll: { minMs: 1, maxMs: 1 } });
    await engine.add([picked("a.jpg"), picked("bb.heic", "image/heic"), picked("ccc.jpg"), picked("dddd.jpg"), picked("eeeee.jpg")]);
    const settled = await engine.settled();
    await engine.stop();

    expect(settled.files.map((file) => file.state)).toEqual(["done", "done", "done", "done", "done"]);
    expect(made).toEqual(["a.jpg", "bb.heic", "ccc.jpg", "dddd.jpg", "eeeee.jpg"]);
    const previewsSent = server.calls.filter((call) => call.startsWith("preview"));
    expect([...previewsSent].sort()).toEqual(["preview a.jpg", "preview ccc.jpg", "preview dddd.jpg", "preview eeeee.jpg"]);
    const lastPreview = server.calls.findLastIndex((call) => call.startsWith("preview"));
    const firstChunk = server.calls.findIndex((call) => call.startsWith("chunk"));
    expect(lastPreview).toBeLessThan(firstChunk);
    // Each file has one session: the original's bytes go on the session its preview opened.
    expect(server.calls.filter((call) => call.startsWith("create")).sort()).toEqual(["a.jpg", "bb.heic", "ccc.jpg", "dddd.jpg", "eeeee.jpg"].map((name) => `create ${name}`));
  });

  it("makes smaller previews once the first preview sends show a slow link, and keeps the usual size on a fast one", async () => {
    const sizesOn = async (bytesPerSecond: number) => {
      const server = fakeServer(bytesPerSecond);
      const asked: number[] = [];
      const previews = async (_file: File, size: PreviewSize) => {
        asked.push(size.targetBytes);
        return new Blob([new Uint8Array(size.targetBytes)], { type: "image/webp" });
      };
      const engine = await UploadEngine.open({ origin: "https://photos.example", joinToken: "join", fetch: server.fetch, previews, processingPoll: { minMs: 1, maxMs: 1 } });
      await engine.add(["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg", "hhhhhhhh", "iiiiiiiii", "jjjjjjjjjj"].map((name) => picked(`${name}.jpg`)));
      expect((await engine.settled()).files.every((file) => file.state === "done")).toBe(true);
      await engine.stop();
      return asked;
    };
    // 2 Mbit/s: the previews made before any send finished are the usual 50 KB; the rest are 25 KB.
    const slow = await sizesOn(250_000);
    expect(slow).toHaveLength(10);
    expect(slow[0]).toBe(previewSizes.normal.targetBytes);
    expect(slow.slice(-4)).toEqual(Array(4).fill(previewSizes.slow.targetBytes));
    // 40 Mbit/s: every preview at the usual size.
    expect(await sizesOn(5_000_000)).toEqual(Array(10).fill(previewSizes.normal.targetBytes));
  });

  it("starts making previews as soon as files are picked, two at once, while their batch is still being registered", async () => {
    const server = fakeServer();
    let register!: () => void;
    const registered = new Promise<void>((resolve) => (register = resolve));
    const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
      if (String(input).endsWith("/batches") && init?.method === "POST") await registered;
      return server.fetch(input, init);
    };
    const making: string[] = [];
    const previews = (file: File) =>
      new Promise<Blob | null>((resolve) => {
        making.push(file.name);
        void registered.then(() => resolve(new Blob([new Uint8Array(100)], { type: "image/webp" })));
      });
    const engine = await UploadEngine.open({ origin: "https://photos.example", joinToken: "join", fetch, previews, processingPoll: { minMs: 1, maxMs: 1 } });
    await engine.add([picked("a.jpg"), picked("bb.jpg"), picked("ccc.jpg")]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(making).toEqual(["a.jpg", "bb.jpg"]);
    register();
    expect((await engine.settled()).files.map((file) => file.state)).toEqual(["done", "done", "done"]);
    await engine.stop();
    expect(making).toEqual(["a.jpg", "bb.jpg", "ccc.jpg"]);
    expect(server.calls.filter((call) => call.startsWith("preview"))).toHaveLength(3);
  });

  it("sends originals only, as before, without a preview maker", async () => {
    const server = fakeServer();
    const engine = await UploadEngine.open({ origin: "https://photos.example", joinToken: "join", fetch: server.fetch, processingPoll: { minMs: 1, maxMs: 1 } });
    await engine.add([picked("a.jpg"), picked("bb.jpg")]);
    expect((await engine.settled()).files.map((file) => file.state)).toEqual(["done", "done"]);
    await engine.stop();
    expect(server.calls.some((call) => call.startsWith("preview"))).toBe(false);
  });
});
