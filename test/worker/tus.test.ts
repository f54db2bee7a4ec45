import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { MiB, call, createEvent, errorCode, expireSession, fileBytes, sha256Hex, stagingObjects, tailRows } from "./helpers";

const b64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));
const metadata = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([key, value]) => `${key} ${b64(value)}`)
    .join(",");
const tus = { "tus-resumable": "1.0.0" };

async function tusEvent(settings: Record<string, unknown> = {}) {
  const { join_token } = await createEvent(settings);
  return `/api/v1/events/${join_token}/tus`;
}

async function createTusUpload(base: string, size: number, extra: Record<string, string> = {}, body?: Uint8Array) {
  return call(`${base}/`, {
    method: "POST",
    headers: {
      ...tus,
      "upload-length": String(size),
      "upload-metadata": metadata({ filename: "beach.jpg", filetype: "image/jpeg", device_id: "tus-device-0001" }),
      ...(body ? { "content-type": "application/offset+octet-stream" } : {}),
      ...extra,
    },
    ...(body ? { body } : {}),
  });
}

async function newTusUpload(base: string, size: number) {
  const response = await createTusUpload(base, size);
  expect(response.status, await response.clone().text()).toBe(201);
  return new URL(response.headers.get("location")!).pathname;
}

function patch(url: string, offset: number, body: BodyInit, headers: Record<string, string> = {}) {
  return call(url, {
    method: "PATCH",
    headers: { ...tus, "content-type": "application/offset+octet-stream", "upload-offset": String(offset), ...headers },
    body,
  });
}

const head = (url: string) => call(url, { method: "HEAD", headers: tus });

async function storedBytes(url: string) {
  const uploadId = url.split("/").pop()!.split(".")[0]!;
  const row = await env.DB.prepare("SELECT r2_key, status FROM upload_sessions WHERE id = ?").bind(uploadId).first<{ r2_key: string; status: string }>();
  return { status: row!.status, object: await env.PHOTOS.get(row!.r2_key) };
}

describe("tus 1.0 discovery and version negotiation", () => {
  it("OPTIONS lists the version, extensions, max size and checksum algorithms", async () => {
    // Without videos, the largest upload is a photo (videos.test.ts: with them, the video cap).
    const base = await tusEvent({ max_file_size: 10 * MiB, videos_allowed: false });
    const response = await call(`${base}/`, { method: "OPTIONS" });
    expect(response.status).toBe(204);
    expect(Object.fromEntries(response.headers)).toMatchObject({
      "tus-resumable": "1.0.0",
      "tus-version": "1.0.0",
      "tus-extension": "creation,creation-with-upload,termination,expiration,checksum,concatenation",
      "tus-max-size": String(10 * MiB),
      "tus-checksum-algorithm": "sha1,sha256,md5",
    });
  });

  it("refuses requests without Tus-Resumable 1.0.0 with 412 and the supported version", async () => {
    const base = await tusEvent();
    for (const version of [undefined, "0.2.2"]) {
      const response = await call(`${base}/`, {
        method: "POST",
        headers: { "upload-length": "10", ...(version ? { "tus-resumable": version } : {}) },
      });
      expect(response.status).toBe(412);
      expect(response.headers.get("tus-version")).toBe("1.0.0");
    }
  });

  it("answers CORS preflights and exposes the tus headers to browsers", async () => {
    const base = await tusEvent();
    const preflight = await call(`${base}/`, {
      method: "OPTIONS",
      headers: { origin: "https://guest.example", "access-control-request-method": "PATCH", "access-control-request-headers": "upload-offset,tus-resumable" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("upload-offset");
    const created = await createTusUpload(base, 100, { origin: "https://guest.example" });
    const exposed = created.headers.get("access-control-expose-headers")!.toLowerCase();
    for (const name of ["location", "upload-offset", "upload-length", "tus-resumable", "upload-expires", "upload-chunk-size"]) expect(exposed).toContain(name);
  });

  it("recommends the R2 part size as Upload-Chunk-Size on discovery, creation and HEAD", async () => {
    for (const [settings, expected] of [[{}, 5 * MiB], [{ chunk_size: 8 * MiB }, 8 * MiB]] as const) {
      const base = await tusEvent(settings);
      const discovery = await call(`${base}/`, { method: "OPTIONS" });
      expect(discovery.headers.get("upload-chunk-size")).toBe(String(expected));
      const created = await createTusUpload(base, 12 * MiB);
      expect(created.headers.get("upload-chunk-size")).toBe(String(expected));
      const status = await head(new URL(created.headers.get("location")!).pathname);
      expect(status.headers.get("upload-chunk-size")).toBe(String(expected));
    }
  });
});

describe("tus creation", () => {
  it("returns an unguessable Location, Upload-Expires, and HEAD reports offset 0", async () => {
    const base = await tusEvent();
    const response = await createTusUpload(base, 3 * MiB);
    expect(response.status).toBe(201);
    const location = response.headers.get("location")!;
    expect(location).toMatch(new RegExp(`^https://photos.test${base}/[0-9a-f-]{36}\\.[A-Za-z0-9_-]{43}$`));
    expect(Date.parse(response.headers.get("upload-expires")!)).toBeGreaterThan(Date.now());
    const status = await head(new URL(location).pathname);
    expect(status.status).toBe(200);
    expect(status.headers.get("upload-offset")).toBe("0");
    expect(status.headers.get("upload-length")).toBe(String(3 * MiB));
    expect(status.headers.get("cache-control")).toBe("no-store");
  });

  it("applies the guest API's create-time checks: size cap 413, type 415, bad input 400", async () => {
    const base = await tusEvent({ max_file_size: MiB });
    expect((await createTusUpload(base, MiB + 1)).status).toBe(413);
    const pdf = await createTusUpload(base, 100, { "upload-metadata": metadata({ filename: "a.pdf", filetype: "application/pdf" }) });
    expect(pdf.status).toBe(415);
    expect((await createTusUpload(base, 100, { "upload-length": "-1" })).status).toBe(400);
    expect((await createTusUpload(base, 100, { "upload-length": "0" })).status).toBe(400);
    expect((await createTusUpload(base, 100, { "upload-metadata": "filename !!notbase64" })).status).toBe(400);
    expect((await createTusUpload(base, 100, { "upload-defer-length": "1" })).status).toBe(400);
  });

  it("creation-with-upload stores the first bytes and reports the offset", async () => {
    const base = await tusEvent();
    const file = fileBytes(3 * MiB, 31);
    const response = await createTusUpload(base, file.byteLength, {}, file.slice(0, 2 * MiB));
    expect(response.status).toBe(201);
    expect(response.headers.get("upload-offset")).toBe(String(2 * MiB));
    const url = new URL(response.headers.get("location")!).pathname;
    expect((await patch(url, 2 * MiB, file.slice(2 * MiB))).status).toBe(204);
    const { status, object } = await storedBytes(url);
    expect(status).toBe("completed");
    expect(await sha256Hex(object!.body)).toBe(await sha256Hex(file));
  });
});

describe("tus PATCH", () => {
  it("appends in any sizes and completes through the guest API's path when the last byte lands", async () => {
    const base = await tusEvent();
    const file = fileBytes(12 * MiB + 5, 32);
    const url = await newTusUpload(base, file.byteLength);
    const enqueued = vi.spyOn(env.PHOTO_QUEUE, "send");
    let offset = 0;
    for (const size of [3 * MiB, 100, 7 * MiB, 2 * MiB + 5 - 100]) {
      const response = await patch(url, offset, file.slice(offset, offset + size));
      expect(response.status).toBe(204);
      offset += size;
      expect(response.headers.get("upload-offset")).toBe(String(offset));
    }
    expect(enqueued).toHaveBeenCalledTimes(1);
    enqueued.mockRestore();
    const { status, object } = await storedBytes(url);
    expect(status).toBe("completed");
    expect(await sha256Hex(object!.body)).toBe(await sha256Hex(file));
    const after = await head(url);
    expect(after.headers.get("upload-offset")).toBe(String(file.byteLength));
    const photos = await env.DB.prepare("SELECT count(*) AS n FROM photos p JOIN upload_sessions s ON s.id = p.upload_id WHERE s.id = ?")
      .bind(url.split("/").pop()!.split(".")[0])
      .first<{ n: number }>();
    expect(photos!.n).toBe(1);
  });

  it("a single long PATCH of unknown length (chunked) stores the whole file", async () => {
    const base = await tusEvent();
    const file = fileBytes(11 * MiB, 33);
    const url = await newTusUpload(base, file.byteLength);
    const response = await patch(url, 0, new Blob([file]).stream().pipeThrough(new TransformStream()));
    expect(response.status).toBe(204);
    expect(await sha256Hex((await storedBytes(url)).object!.body)).toBe(await sha256Hex(file));
  });

  it("keeps the bytes that arrived before the connection dropped, and the offset reflects them", async () => {
    const base = await tusEvent();
    const file = fileBytes(9 * MiB, 34);
    const url = await newTusUpload(base, file.byteLength);
    const cutAt = 6 * MiB + 12345;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const response = patch(url, 0, readable);
    for (let offset = 0; offset < cutAt; offset += 256 * 1024) await writer.write(file.slice(offset, Math.min(offset + 256 * 1024, cutAt)));
    // Bytes the server never read are lost with the connection: let it commit part 1 and read the rest first.
    for (let i = 0; i < 200 && (await head(url)).headers.get("upload-offset") !== String(5 * MiB); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    // Reading them is not observable before the drop; 2 s covers a machine busy with another test file.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await writer.abort(new Error("connection dropped"));
    await response.catch(() => null);

    // The server may still be flushing what arrived; HEAD settles on the exact byte count.
    let offset = "";
    for (let i = 0; i < 200 && offset !== String(cutAt); i++) {
      offset = (await head(url)).headers.get("upload-offset")!;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(offset).toBe(String(cutAt));
    // Part 1 went to R2; the bytes after it that arrived are the session's stored tail, nothing is staged in R2.
    const uploadId = url.split("/").pop()!.split(".")[0]!;
    expect(await stagingObjects(uploadId)).toHaveLength(0);
    expect(await tailRows(uploadId)).toBe(2);
    expect((await patch(url, cutAt, file.slice(cutAt))).status).toBe(204);
    expect(await tailRows(uploadId)).toBe(0);
    expect(await sha256Hex((await storedBytes(url)).object!.body)).toBe(await sha256Hex(file));
  });

  it("refuses a wrong offset with 409, a wrong content type with 415, and bytes past the end with 413", async () => {
    const base = await tusEvent();
    const file = fileBytes(2 * MiB, 35);
    const url = await newTusUpload(base, file.byteLength);
    const wrongOffset = await patch(url, 5, file.slice(5, 100));
    expect(wrongOffset.status).toBe(409);
    expect(await errorCode(wrongOffset)).toBe("chunk_out_of_order");
    const wrongType = await patch(url, 0, file.slice(0, 100), { "content-type": "application/octet-stream" });
    expect(wrongType.status).toBe(415);
    const tooLong = await patch(url, 0, new Uint8Array(2 * MiB + 1));
    expect(tooLong.status).toBe(413);
    const tooLongChunked = await patch(url, 0, new Blob([new Uint8Array(2 * MiB + 1)]).stream().pipeThrough(new TransformStream()));
    expect(tooLongChunked.status).toBe(413);
    // The overlong body never completed the upload.
    const kept = Number((await head(url)).headers.get("upload-offset"));
    expect(kept).toBeLessThan(2 * MiB);
    expect((await storedBytes(url)).status).not.toBe("completed");
    expect((await patch(url, 2 * MiB, new Uint8Array(0))).status).toBe(409);
  });

  it("checksum: a matching sha1/sha256/md5 is accepted; a mismatch answers 460 and keeps nothing", async () => {
    const base = await tusEvent();
    const file = fileBytes(3 * MiB, 36);
    const url = await newTusUpload(base, file.byteLength);
    const digest = async (algorithm: string, bytes: Uint8Array) =>
      btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest(algorithm, bytes))));
    const first = file.slice(0, MiB);
    const bad = await patch(url, 0, first, { "upload-checksum": `sha256 ${await digest("SHA-256", file.slice(1, MiB + 1))}` });
    expect(bad.status).toBe(460);
    expect(await errorCode(bad)).toBe("checksum_mismatch");
    expect((await head(url)).headers.get("upload-offset")).toBe("0");
    expect((await patch(url, 0, first, { "upload-checksum": "crc32 AAAA" })).status).toBe(400);

    expect((await patch(url, 0, first, { "upload-checksum": `sha256 ${await digest("SHA-256", first)}` })).status).toBe(204);
    const second = file.slice(MiB, 2 * MiB);
    expect((await patch(url, MiB, second, { "upload-checksum": `sha1 ${await digest("SHA-1", second)}` })).status).toBe(204);
    const third = file.slice(2 * MiB);
    expect((await patch(url, 2 * MiB, third, { "upload-checksum": `md5 ${await digest("MD5", third)}` })).status).toBe(204);
    expect(await sha256Hex((await storedBytes(url)).object!.body)).toBe(await sha256Hex(file));
  });

  it("accepts PATCH and DELETE tunnelled through POST with X-HTTP-Method-Override", async () => {
    const base = await tusEvent();
    const file = fileBytes(MiB, 37);
    const url = await newTusUpload(base, 2 * MiB);
    const response = await call(url, {
      method: "POST",
      headers: { ...tus, "x-http-method-override": "PATCH", "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      body: file,
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("upload-offset")).toBe(String(MiB));
    const terminated = await call(url, { method: "POST", headers: { ...tus, "x-http-method-override": "DELETE" } });
    expect(terminated.status).toBe(204);
  });
});

describe("tus termination, expiry and capabilities", () => {
  it("DELETE terminates: 204, then HEAD and PATCH answer 410", async () => {
    const base = await tusEvent();
    const url = await newTusUpload(base, MiB);
    expect((await call(url, { method: "DELETE", headers: tus })).status).toBe(204);
    expect((await head(url)).status).toBe(410);
    expect((await patch(url, 0, new Uint8Array(10))).status).toBe(410);
  });

  it("an expired upload answers 410", async () => {
    const base = await tusEvent();
    const url = await newTusUpload(base, MiB);
    await expireSession(url.split("/").pop()!.split(".")[0]!);
    expect((await patch(url, 0, new Uint8Array(10))).status).toBe(410);
    expect((await head(url)).status).toBe(410);
    // HEAD drops the body; GET is the same route and shows the code: the guest API's name for it.
    expect(await errorCode(await call(url, { headers: tus }))).toBe("session_expired");
  });

  it("the upload URL is the capability: a wrong key, an unknown id or another event's token is 404", async () => {
    const base = await tusEvent();
    const other = await tusEvent();
    const url = await newTusUpload(base, MiB);
    const [id, key] = url.split("/").pop()!.split(".") as [string, string];
    const flipped = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
    for (const wrong of [`${base}/${id}.${flipped}`, `${base}/${crypto.randomUUID()}.${key}`, `${other}/${id}.${key}`, `${base}/${id}`]) {
      expect((await head(wrong)).status, wrong).toBe(404);
      expect((await patch(wrong, 0, new Uint8Array(10))).status).toBe(404);
      expect((await call(wrong, { method: "DELETE", headers: tus })).status).toBe(404);
    }
    expect((await head(url)).status).toBe(200);
  });
});

describe("tus concatenation (tus-js-client parallelUploads)", () => {
  async function partial(base: string, bytes: Uint8Array) {
    const created = await createTusUpload(base, bytes.byteLength, { "upload-concat": "partial", "upload-metadata": metadata({ device_id: "tus-device-0001" }) });
    expect(created.status, await created.clone().text()).toBe(201);
    const url = new URL(created.headers.get("location")!).pathname;
    expect((await patch(url, 0, bytes)).status).toBe(204);
    return url;
  }

  it("streams completed partials into one final upload that becomes the photo", async () => {
    const base = await tusEvent();
    const file = fileBytes(13 * MiB + 7, 70);
    const cuts = [0, 6 * MiB, 12 * MiB, file.byteLength];
    const send = vi.spyOn(env.PHOTO_QUEUE, "send");
    // Three partials at once: more than the two uploads a device may have in flight.
    const urls = await Promise.all(cuts.slice(0, -1).map((from, i) => partial(base, file.slice(from, cuts[i + 1]))));
    expect(send).not.toHaveBeenCalled();
    const head = await call(urls[0]!, { method: "HEAD", headers: tus });
    expect(head.headers.get("upload-concat")).toBe("partial");
    expect(head.headers.get("upload-offset")).toBe(String(6 * MiB));

    const final = await call(`${base}/`, {
      method: "POST",
      headers: { ...tus, "upload-concat": `final;${urls.map((u) => `https://photos.test${u}`).join(" ")}`, "upload-metadata": metadata({ filename: "joined.jpg", filetype: "image/jpeg", device_id: "tus-device-0001" }) },
    });
    expect(final.status, await final.clone().text()).toBe(201);
    expect(send).toHaveBeenCalledTimes(1);
    send.mockRestore();
    const finalUrl = new URL(final.headers.get("location")!).pathname;
    const { status, object } = await storedBytes(finalUrl);
    expect(status).toBe("completed");
    expect(await sha256Hex(object!.body)).toBe(await sha256Hex(file));
    expect((await call(finalUrl, { method: "HEAD", headers: tus })).headers.get("upload-offset")).toBe(String(file.byteLength));
    // A final upload takes no bytes of its own (tus: 403 Forbidden).
    expect((await patch(finalUrl, file.byteLength, new Uint8Array(0))).status).toBe(403);
    // The partials' objects are gone once they are part of the final upload.
    for (const url of urls) expect((await storedBytes(url)).object).toBeNull();
  });

  it("refuses a final upload of incomplete partials or of another event's partials", async () => {
    const base = await tusEvent();
    const other = await tusEvent();
    const created = await createTusUpload(base, 1000, { "upload-concat": "partial" });
    const incomplete = new URL(created.headers.get("location")!).pathname;
    const foreign = await partial(other, fileBytes(1000, 71));
    for (const url of [incomplete, foreign]) {
      const final = await call(`${base}/`, { method: "POST", headers: { ...tus, "upload-concat": `final;${url}` } });
      expect(final.status).toBe(400);
      expect(await errorCode(final)).toBe("partial_not_complete");
    }
    const partialAsPhoto = await call(`${base}/`, { method: "POST", headers: { ...tus, "upload-concat": "partial" } });
    expect(partialAsPhoto.status).toBe(400); // a partial still needs Upload-Length
  });
});
