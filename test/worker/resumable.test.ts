import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MiB, call, createEvent, errorCode, expireSession, fileBytes, sha256Hex } from "./helpers";

async function resumableEvent(settings: Record<string, unknown> = {}) {
  const { join_token } = await createEvent(settings);
  return `/api/v1/events/${join_token}/resumable`;
}

const interop = (version: number) => ({ "upload-draft-interop-version": String(version) });

function create(base: string, version: number, complete: boolean, body: Uint8Array, headers: Record<string, string> = {}) {
  return call(base, {
    method: "POST",
    headers: {
      ...interop(version),
      "upload-complete": complete ? "?1" : "?0",
      "content-type": "image/jpeg",
      "content-disposition": 'attachment; filename="party.jpg"',
      "x-device-id": "ietf-device-0001",
      ...headers,
    },
    body,
  });
}

function append(url: string, version: number, offset: number, complete: boolean, body: Uint8Array, headers: Record<string, string> = {}) {
  return call(url, {
    method: "PATCH",
    headers: {
      ...interop(version),
      "content-type": "application/partial-upload",
      "upload-offset": String(offset),
      "upload-complete": complete ? "?1" : "?0",
      ...headers,
    },
    body,
  });
}

const offsetOf = (url: string, version = 9) => call(url, { method: "HEAD", headers: interop(version) });

describe.each([6, 9])("IETF resumable uploads, interop version %i", (version) => {
  it("creates with part of the file, reports the offset, resumes, and completes with the photo", async () => {
    const base = await resumableEvent();
    const file = fileBytes(7 * MiB + 3, 40 + version);
    const created = await create(base, version, false, file.slice(0, 3 * MiB), { "upload-length": String(file.byteLength) });
    expect(created.status).toBe(201);
    expect(created.headers.get("upload-complete")).toBe("?0");
    expect(created.headers.get("upload-offset")).toBe(String(3 * MiB));
    expect(created.headers.get("upload-draft-interop-version")).toBe(String(version));
    const limit = created.headers.get("upload-limit")!;
    expect(limit).toContain(`max-size=${25 * MiB}`);
    expect(created.headers.get("upload-chunk-size")).toBe(String(5 * MiB));
    expect(limit).toMatch(version === 6 ? /expires=\d+/ : /max-age=\d+/);
    const url = new URL(created.headers.get("location")!).pathname;

    const status = await offsetOf(url, version);
    expect(status.status).toBe(204);
    expect(status.headers.get("upload-offset")).toBe(String(3 * MiB));
    expect(status.headers.get("upload-complete")).toBe("?0");
    expect(status.headers.get("upload-chunk-size")).toBe(String(5 * MiB));
    expect(status.headers.get("upload-length")).toBe(String(file.byteLength));
    expect(status.headers.get("cache-control")).toBe("no-store");

    const mismatch = await append(url, version, 1000, false, file.slice(1000, 2000));
    expect(mismatch.status).toBe(409);
    expect(mismatch.headers.get("upload-offset")).toBe(String(3 * MiB));
    expect(mismatch.headers.get("upload-complete")).toBe("?0");
    const problem = await mismatch.json<{ error: Record<string, unknown> }>();
    expect(problem.error).toMatchObject({
      type: "https://iana.org/assignments/http-problem-types#mismatching-upload-offset",
      "expected-offset": 3 * MiB,
      "provided-offset": 1000,
    });

    const middle = await append(url, version, 3 * MiB, false, file.slice(3 * MiB, 5 * MiB));
    expect(middle.status).toBe(204);
    expect(middle.headers.get("upload-complete")).toBe("?0");
    const last = await append(url, version, 5 * MiB, true, file.slice(5 * MiB));
    expect(last.status).toBe(201);
    expect(last.headers.get("upload-complete")).toBe("?1");
    const photo = await last.json<{ photo_id: string; file_path: string }>();
    expect(await sha256Hex((await env.PHOTOS.get(photo.file_path))!.body)).toBe(await sha256Hex(file));
    const row = await env.DB.prepare("SELECT filename, declared_content_type FROM photos WHERE id = ?").bind(photo.photo_id).first();
    expect(row).toEqual({ filename: "party.jpg", declared_content_type: "image/jpeg" });
    expect((await offsetOf(url, version)).headers.get("upload-complete")).toBe("?1");
  });

  it("uploads a whole file in one request with Upload-Complete: ?1", async () => {
    const base = await resumableEvent();
    const file = fileBytes(2 * MiB, 50 + version);
    const response = await create(base, version, true, file);
    expect(response.status).toBe(201);
    expect(response.headers.get("upload-complete")).toBe("?1");
    const photo = await response.json<{ file_path: string; status: string }>();
    expect(photo.status).toBe("processing");
    expect(await sha256Hex((await env.PHOTOS.get(photo.file_path))!.body)).toBe(await sha256Hex(file));
  });
});

describe("IETF resumable uploads: refusals", () => {
  it("needs a supported interop version", async () => {
    const base = await resumableEvent();
    for (const headers of [{}, interop(3), interop(99)]) {
      const response = await call(base, { method: "POST", headers: { "upload-complete": "?1", ...headers }, body: "x" });
      expect(response.status).toBe(400);
      expect(await errorCode(response)).toBe("unsupported_interop_version");
    }
  });

  it("refuses inconsistent lengths, a wrong media type, and completing with bytes missing", async () => {
    const base = await resumableEvent();
    const file = fileBytes(MiB, 60);
    const inconsistent = await create(base, 9, true, file, { "upload-length": String(2 * MiB) });
    expect(inconsistent.status).toBe(400);
    expect(await errorCode(inconsistent)).toBe("inconsistent_upload_length");

    const created = await create(base, 9, false, file.slice(0, 1000), { "upload-length": String(file.byteLength) });
    const url = new URL(created.headers.get("location")!).pathname;
    const wrongType = await append(url, 9, 1000, false, file.slice(1000, 2000), { "content-type": "application/offset+octet-stream" });
    expect(wrongType.status).toBe(415);
    const early = await append(url, 9, 1000, true, file.slice(1000, 5000));
    expect(early.status).toBe(400);
    expect(await errorCode(early)).toBe("inconsistent_upload_length");
    // Refused before any byte was appended: the upload still stands at 1000.
    expect((await offsetOf(url)).headers.get("upload-offset")).toBe("1000");
    const rest = await append(url, 9, 1000, true, file.slice(1000));
    expect(rest.status, await rest.clone().text()).toBe(201);
  });

  it("an expired upload is session_expired, as in the guest API", async () => {
    const base = await resumableEvent();
    const created = await create(base, 9, false, new Uint8Array(10), { "upload-length": "100" });
    const url = new URL(created.headers.get("location")!).pathname;
    await expireSession(url.split("/").pop()!.split(".")[0]!);
    const offset = await call(url, { headers: interop(9) });
    expect(offset.status).toBe(404);
    expect(await errorCode(offset)).toBe("session_expired");
  });

  it("OPTIONS advertises the limits; DELETE cancels and the upload is then gone", async () => {
    const base = await resumableEvent({ max_file_size: 5 * MiB, max_video_size: 4 * MiB });
    const options = await call(base, { method: "OPTIONS", headers: interop(9) });
    expect(options.status).toBe(204);
    expect(options.headers.get("upload-limit")).toBe(`min-size=0, max-size=${5 * MiB}`);
    // Our own header (neither draft has one): the part size, the chunk size that costs least.
    expect(options.headers.get("upload-chunk-size")).toBe(String(5 * MiB));
    const created = await create(base, 9, false, new Uint8Array(10), { "upload-length": "100" });
    const url = new URL(created.headers.get("location")!).pathname;
    expect((await call(url, { method: "DELETE", headers: interop(9) })).status).toBe(204);
    expect((await offsetOf(url)).status).toBe(404);
    expect((await create(base, 9, false, new Uint8Array(0), { "upload-length": String(5 * MiB + 1) })).status).toBe(413);
  });
});
