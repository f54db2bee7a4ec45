/**
 * Hand-written hostile input (issue 8, "Hostile input, with a stated count"), beside the
 * generated sequences of fuzz.test.ts. Each case asserts what the client sees and that the bytes
 * an upload had already accepted are exactly as they were: a hostile request changes nothing.
 * Every answer also passes CheckedClient's checks (no 5xx; refusals in the JSON error form with a
 * known code and their request id).
 */
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import { hardLimits } from "../../src/core/limits";
import { MiB, createEvent, fileBytes, sha256Hex } from "./helpers";
import { CheckedClient, chunkedBody, cutShortBody, failingBody, storedObject, type Answer } from "./fuzz-model";

const TUS = { "tus-resumable": "1.0.0" };
const IETF = { "upload-draft-interop-version": "9" };
const OCTETS = "application/offset+octet-stream";
const MIN_CHUNK = hardLimits.minChunkSize; // every guest chunk but the last
const b64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

/** One guest's phone: its own address, so its requests are counted (and limited) apart from other tests'. */
let client: CheckedClient;
let clients = 0;
beforeEach(() => {
  client = new CheckedClient(172, ++clients * 256);
});

let deviceCounter = 0;
const newDevice = () => `hostile-${Date.now()}-${deviceCounter++}`;

/** An upload as its client knows it, through any of the three protocols. */
interface Upload {
  token: string;
  id: string;
  key: string;
}

const guestPath = (upload: Upload, suffix = "") => `/api/v1/events/${upload.token}/uploads/${upload.id}${suffix}`;
const tusPath = (upload: Upload) => `/api/v1/events/${upload.token}/tus/${upload.id}.${upload.key}`;
const ietfPath = (upload: Upload) => `/api/v1/events/${upload.token}/resumable/${upload.id}.${upload.key}`;
const segmentOf = (answer: Answer) => {
  const [id, key] = answer.headers.get("location")!.split("/").pop()!.split(".") as [string, string];
  return { id, key };
};

type Protocol = "guest" | "tus" | "ietf";

/** Creates an upload through `via`, asserting it was created. */
async function createUpload(via: Protocol, token: string, size: number, filename = "IMG_0001.jpg"): Promise<Upload> {
  const device = newDevice();
  let answer: Answer;
  if (via === "guest") {
    answer = await client.send(`/api/v1/events/${token}/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filename, size, content_type: "image/jpeg", device_id: device }),
    });
  } else if (via === "tus") {
    answer = await client.send(`/api/v1/events/${token}/tus/`, {
      method: "POST",
      headers: { ...TUS, "upload-length": String(size), "upload-metadata": `filename ${b64(filename)},filetype ${b64("image/jpeg")},device_id ${b64(device)}` },
    });
  } else {
    answer = await client.send(`/api/v1/events/${token}/resumable`, {
      method: "POST",
      headers: {
        ...IETF,
        "upload-complete": "?0",
        "upload-length": String(size),
        "content-type": "image/jpeg",
        "content-disposition": `attachment; filename="${encodeURIComponent(filename)}"`,
        "x-device-id": device,
      },
      body: new Uint8Array(0),
    });
  }
  expect(answer.status, JSON.stringify(answer.json)).toBe(201);
  if (via === "guest") {
    const { upload_id, upload_key } = answer.json as { upload_id: string; upload_key: string };
    return { token, id: upload_id, key: upload_key };
  }
  return { token, ...segmentOf(answer) };
}

/** A guest-API chunk of `file`, bytes [start, end), with extra or replaced headers. */
function putChunk(upload: Upload, file: Uint8Array, start: number, end: number, headers: Record<string, string> = {}, body: BodyInit = file.slice(start, end)) {
  return client.send(guestPath(upload, "/chunk"), {
    method: "PUT",
    headers: { "upload-key": upload.key, "content-range": `bytes ${start}-${end - 1}/${file.byteLength}`, ...headers },
    body,
  });
}

function tusPatch(upload: Upload, offset: number | string, body: BodyInit, headers: Record<string, string> = {}) {
  return client.send(tusPath(upload), {
    method: "PATCH",
    headers: { ...TUS, "content-type": OCTETS, "upload-offset": String(offset), ...headers },
    body,
  });
}

function ietfPatch(upload: Upload, offset: number | string, body: BodyInit, complete: boolean, headers: Record<string, string> = {}) {
  return client.send(ietfPath(upload), {
    method: "PATCH",
    headers: { ...IETF, "content-type": "application/partial-upload", "upload-offset": String(offset), "upload-complete": complete ? "?1" : "?0", ...headers },
    body,
  });
}

/** What the upload's own guest sees: its status and offset. */
async function statusOf(upload: Upload): Promise<{ status: string; received_bytes: number; photo_id: string | null }> {
  const answer = await client.send(guestPath(upload), { method: "GET", headers: { "upload-key": upload.key } });
  expect(answer.status).toBe(200);
  return answer.json as { status: string; received_bytes: number; photo_id: string | null };
}

/** The upload still has exactly `offset` bytes and is in progress: the hostile request changed nothing. */
async function expectUntouched(upload: Upload, offset: number): Promise<void> {
  expect(await statusOf(upload)).toMatchObject({ received_bytes: offset, status: offset === 0 ? "pending" : "uploading" });
}

/** Sends the rest of `file` from `offset` and completes: the stored object must be exactly `file`. */
async function finishAndCompare(upload: Upload, file: Uint8Array, offset: number): Promise<string> {
  if (offset < file.byteLength) expect((await putChunk(upload, file, offset, file.byteLength)).status).toBe(204);
  const complete = await client.send(guestPath(upload, "/complete"), { method: "POST", headers: { "upload-key": upload.key } });
  expect(complete.status).toBe(201);
  const { object } = await storedObject(upload.id);
  expect(await sha256Hex(object!.body)).toBe(await sha256Hex(file));
  return (complete.json as { photo_id: string }).photo_id;
}

/**
 * An upload a quarter of the way through, beside a hostile request that names no upload (or
 * another one): `expectIntact` shows it was left exactly as it was and still completes.
 */
async function bystanderUpload(token: string) {
  const file = fileBytes(MiB, 99);
  const upload = await createUpload("guest", token, file.byteLength);
  expect((await putChunk(upload, file, 0, MIN_CHUNK)).status).toBe(204);
  return {
    async expectIntact() {
      await expectUntouched(upload, MIN_CHUNK);
      await finishAndCompare(upload, file, MIN_CHUNK);
    },
  };
}

function expectRefusal(answer: Answer, status: number, code: string | string[], why = "") {
  expect(answer.status, `${why} ${JSON.stringify(answer.json)}`).toBe(status);
  expect(typeof code === "string" ? [code] : code, why).toContain(answer.error!.code);
}

// --- filenames ---------------------------------------------------------------------------------

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const ID_DERIVED_KEY = new RegExp(
  `^(uploads/${UUID}/${UUID}|staging/${UUID}/\\d+-\\d+-[0-9a-f-]+|photos/${UUID}/${UUID}/(scrubbed\\.[a-z]+|thumb-\\d+\\.webp))$`,
);

async function allKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.PHOTOS.list({ cursor });
    keys.push(...page.objects.map((object) => object.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

describe("filenames are metadata: stored cleaned, never part of a path", () => {
  // What a guest's filename becomes (core/filenames.ts): the last path segment, without control,
  // bidi-override or isolate characters, NFC, at most 255 characters, never empty, "." or "..".
  const filenames: Array<[string, string, string]> = [
    ["path traversal", "../../etc/passwd", "passwd"],
    ["Windows traversal", "..\\..\\Windows\\win.ini", "win.ini"],
    ["NUL", "IMG\u0000_0001.jpg", "IMG_0001.jpg"],
    ["control characters", "bell\u0007 tab\t newline\r\n.jpg", "bell tab newline.jpg"],
    ["RTL override", "photo\u202egpj.exe", "photogpj.exe"],
    ["bidi isolates and marks", "\u2066a\u2069\u200e\u200fb.jpg", "ab.jpg"],
    ["4 KB long", "x".repeat(4096), "x".repeat(255)],
    ["only dots", "..", "upload"],
    ["only a separator", "/", "upload"],
    ["only control characters", "\u0000\u0001\u001f", "upload"],
    ["decomposed accents", "e\u0301te\u0301.jpg", "\u00e9t\u00e9.jpg"],
  ];

  it.each(["guest", "tus", "ietf"] as const)("through %s: upload and photo rows hold the cleaned name, R2 keys only ids", async (via) => {
    const { join_token, event_id } = await createEvent();
    const file = fileBytes(1000, 5);
    for (const [what, raw, cleaned] of filenames) {
      const upload = await createUpload(via, join_token, file.byteLength, raw);
      const photoId = await finishAndCompare(upload, file, 0);
      const session = await env.DB.prepare("SELECT filename, r2_key FROM upload_sessions WHERE id = ?").bind(upload.id).first<{ filename: string; r2_key: string }>();
      const photo = await env.DB.prepare("SELECT filename, original_key FROM photos WHERE id = ?").bind(photoId).first<{ filename: string; original_key: string }>();
      expect(session, what).toEqual({ filename: cleaned, r2_key: `uploads/${event_id}/${upload.id}` });
      expect(photo, what).toEqual({ filename: cleaned, original_key: `uploads/${event_id}/${upload.id}` });
    }
    // Every key in the bucket is one of the id-derived layouts (README, "R2 layout").
    for (const key of await allKeys()) expect(key).toMatch(ID_DERIVED_KEY);
  });

  it("refuses a filename over 4,096 characters, and stores a lone surrogate as well-formed text", async () => {
    const { join_token } = await createEvent();
    const tooLong = await client.send(`/api/v1/events/${join_token}/uploads`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ filename: "x".repeat(4097), size: 10, content_type: "image/jpeg", device_id: newDevice() }),
    });
    expectRefusal(tooLong, 400, "invalid_request");

    // JSON may carry half a UTF-16 pair ("\ud800"); what is stored must still be valid text.
    const upload = await createUpload("guest", join_token, 10, "\ud800broken\udc00.jpg");
    const photoId = await finishAndCompare(upload, fileBytes(10, 6), 0);
    const photo = await env.DB.prepare("SELECT filename FROM photos WHERE id = ?").bind(photoId).first<{ filename: string }>();
    expect(photo!.filename.isWellFormed()).toBe(true);
    expect(photo!.filename).toContain("broken");
  });

  it("an IETF Content-Disposition with broken percent-encoding still creates the upload (no 500)", async () => {
    const { join_token } = await createEvent();
    const answer = await client.send(`/api/v1/events/${join_token}/resumable`, {
      method: "POST",
      headers: { ...IETF, "upload-complete": "?0", "upload-length": "10", "content-type": "image/jpeg", "content-disposition": 'attachment; filename="100%_party%E0%A4%A.jpg"', "x-device-id": newDevice() },
      body: new Uint8Array(0),
    });
    expect(answer.status).toBe(201);
    const session = await env.DB.prepare("SELECT filename FROM upload_sessions WHERE id = ?").bind(segmentOf(answer).id).first<{ filename: string }>();
    // Kept as sent, or decoded as far as it goes: either way the guest's name survives.
    expect(session!.filename).toContain("_party");
  });
});

// --- JSON bodies --------------------------------------------------------------------------------

describe("JSON bodies: deeply nested, over the limit, of undeclared length", () => {
  const createBody = (filename: string) => JSON.stringify({ filename, size: 1000, content_type: "image/jpeg", device_id: newDevice() });
  const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);

  it("a create nested 10,000 levels deep is over the 16 KiB limit: 413 body_too_large, also without Content-Length", async () => {
    const { join_token } = await createEvent();
    const bystander = await bystanderUpload(join_token);
    const body = `{"filename": ${nested(10_000)}}`;
    for (const sent of [body, chunkedBody(new TextEncoder().encode(body))]) {
      const answer = await client.send(`/api/v1/events/${join_token}/uploads`, { method: "POST", headers: { "content-type": "application/json" }, body: sent });
      expectRefusal(answer, 413, "body_too_large");
    }
    await bystander.expectIntact();
  });

  it("nesting that fits in 16 KiB (8,000 levels) is refused as invalid, not a crash", async () => {
    const { join_token } = await createEvent();
    const body = `{"filename": ${nested(8_000)}, "size": 1000, "content_type": "image/jpeg", "device_id": "${newDevice()}"}`;
    expect(body.length).toBeLessThan(16 * 1024);
    const answer = await client.send(`/api/v1/events/${join_token}/uploads`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expectRefusal(answer, 400, ["invalid_json", "invalid_request"]);
  });

  it("a batch (512 KiB allowed) nested 200,000 levels deep is refused as invalid, not a crash", async () => {
    const { join_token } = await createEvent();
    const bystander = await bystanderUpload(join_token);
    const body = `{"device_id": "${newDevice()}", "files": ${nested(200_000)}}`;
    const answer = await client.send(`/api/v1/events/${join_token}/batches`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expectRefusal(answer, 400, ["invalid_json", "invalid_request"]);
    // The isolate survived it: uploads carry on.
    await bystander.expectIntact();
  });

  it("over the limit: refused whether its size is declared, undeclared (chunked) or declared larger than sent", async () => {
    const { join_token } = await createEvent();
    const bystander = await bystanderUpload(join_token);
    const big = createBody("x".repeat(17 * 1024));
    const path = `/api/v1/events/${join_token}/uploads`;
    const json = { "content-type": "application/json" };
    expectRefusal(await client.send(path, { method: "POST", headers: json, body: big }), 413, "body_too_large");
    expectRefusal(await client.send(path, { method: "POST", headers: json, body: chunkedBody(new TextEncoder().encode(big)) }), 413, "body_too_large");
    // A declared size over the limit is refused before any of the body is read.
    expectRefusal(await client.send(path, { method: "POST", headers: { ...json, "content-length": String(10 * MiB) }, body: cutShortBody(new TextEncoder().encode(big), 100) }), 413, "body_too_large");
    // Just under the limit is read and judged on its content.
    const fits = createBody("x".repeat(15 * 1024));
    expectRefusal(await client.send(path, { method: "POST", headers: json, body: fits }), 400, "invalid_request"); // filename > 4,096 characters
    await bystander.expectIntact();
  });
});

// --- ranges, offsets and lengths ----------------------------------------------------------------

describe("Content-Range and offsets: beyond 2^53, negative, non-numeric, inconsistent", () => {
  const file = fileBytes(MiB, 7);
  const next = { start: MIN_CHUNK, end: 2 * MIN_CHUNK }; // the chunk after the one accepted
  const length = next.end - next.start;

  it.each([
    ["start and end beyond 2^53", `bytes 9007199254740993-9007199254740994/9007199254740995`],
    ["end beyond 2^53", `bytes ${next.start}-9007199254740993/9007199254740994`],
    ["total beyond 2^53", `bytes ${next.start}-${next.end - 1}/9007199254740993`],
    ["17 digits", `bytes ${next.start}-${next.end - 1}/12345678901234567`],
    ["negative start", `bytes -${next.start}-${next.end - 1}/${MiB}`],
    ["negative end", `bytes ${next.start}--1/${MiB}`],
    ["negative total", `bytes ${next.start}-${next.end - 1}/-${MiB}`],
    ["non-numeric", "bytes abc-def/ghi"],
    ["trailing garbage", `bytes ${next.start}-${next.end - 1}/${MiB}abc`],
    ["NaN and Infinity", `bytes ${next.start}-NaN/Infinity`],
    ["unit other than bytes", `items ${next.start}-${next.end - 1}/${MiB}`],
    ["unsatisfied-range form", `bytes */${MiB}`],
    ["end before start", `bytes ${next.end}-${next.start}/${MiB}`],
  ])("%s: 400 range_mismatch, the accepted bytes unchanged", async (_what, range) => {
    const { join_token } = await createEvent();
    const upload = await createUpload("guest", join_token, file.byteLength);
    expect((await putChunk(upload, file, 0, next.start)).status).toBe(204);
    expectRefusal(await putChunk(upload, file, next.start, next.end, { "content-range": range }), 400, "range_mismatch", range);
    await expectUntouched(upload, next.start);
    await finishAndCompare(upload, file, next.start);
  });

  it("a Content-Length that disagrees with the range (a byte more, a byte less, the body longer than its range): 400, nothing kept", async () => {
    const { join_token } = await createEvent();
    const upload = await createUpload("guest", join_token, file.byteLength);
    expect((await putChunk(upload, file, 0, next.start)).status).toBe(204);
    for (const bodyEnd of [next.end + 1, next.end - 1, next.end + 300_000]) {
      const answer = await putChunk(upload, file, next.start, next.end, {}, file.slice(next.start, bodyEnd));
      expectRefusal(answer, 400, "range_mismatch", `body of ${bodyEnd - next.start} bytes for a range of ${length}`);
    }
    // A non-numeric or negative Content-Length header is refused the same way.
    for (const contentLength of ["abc", "-5"]) {
      const answer = await putChunk(upload, file, next.start, next.end, { "content-length": contentLength }, chunkedBody(file.slice(next.start, next.end)));
      expectRefusal(answer, 400, "range_mismatch", `Content-Length ${contentLength}`);
    }
    await expectUntouched(upload, next.start);
    await finishAndCompare(upload, file, next.start);
  });

  it("tus and IETF: an Upload-Offset beyond 2^53, negative or non-numeric is 400 invalid_request, nothing kept", async () => {
    const { join_token } = await createEvent();
    const tus = await createUpload("tus", join_token, file.byteLength);
    const ietf = await createUpload("ietf", join_token, file.byteLength);
    const body = file.slice(0, 1000);
    for (const offset of ["9007199254740993", "12345678901234567", "-1", "-0", "abc", "1e3", "0x10", "1.0", ""]) {
      expectRefusal(await tusPatch(tus, offset, body), 400, "invalid_request", `tus ${offset}`);
      expectRefusal(await ietfPatch(ietf, offset, body, false), 400, "invalid_request", `ietf ${offset}`);
    }
    await expectUntouched(tus, 0);
    await expectUntouched(ietf, 0);
    await finishAndCompare(tus, file, 0);
    await finishAndCompare(ietf, file, 0);
  });

  it("an upload length beyond 2^53, negative or non-numeric is refused at creation by every protocol", async () => {
    const { join_token } = await createEvent();
    const bystander = await bystanderUpload(join_token);
    for (const size of ["9007199254740993", "-1", "abc", "1e6"]) {
      const guest = await client.send(`/api/v1/events/${join_token}/uploads`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"filename": "a.jpg", "size": ${size === "abc" ? '"abc"' : size}, "content_type": "image/jpeg", "device_id": "${newDevice()}"}`,
      });
      // 1e6 is a valid JSON number (a million bytes): the guest API takes it.
      if (size === "1e6") expect(guest.status).toBe(201);
      else expectRefusal(guest, 400, "invalid_request", `guest ${size}`);
      const tus = await client.send(`/api/v1/events/${join_token}/tus/`, { method: "POST", headers: { ...TUS, "upload-length": size } });
      expectRefusal(tus, 400, "invalid_request", `tus ${size}`);
      const ietf = await client.send(`/api/v1/events/${join_token}/resumable`, {
        method: "POST",
        headers: { ...IETF, "upload-complete": "?0", "upload-length": size, "content-type": "image/jpeg" },
        body: new Uint8Array(0),
      });
      expectRefusal(ietf, 400, "invalid_request", `ietf ${size}`);
    }
    await bystander.expectIntact();
  });
});

describe("size 0", () => {
  it("no protocol creates an upload of zero bytes, and none is recorded", async () => {
    const { join_token, event_id } = await createEvent();
    const bystander = await bystanderUpload(join_token);
    const device = newDevice();
    const answers = [
      await client.send(`/api/v1/events/${join_token}/uploads`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ filename: "empty.jpg", size: 0, content_type: "image/jpeg", device_id: device }),
      }),
      await client.send(`/api/v1/events/${join_token}/tus/`, { method: "POST", headers: { ...TUS, "upload-length": "0", "upload-metadata": `device_id ${b64(device)}` } }),
      // Creation-with-upload of an empty body, declaring nothing else.
      await client.send(`/api/v1/events/${join_token}/tus/`, { method: "POST", headers: { ...TUS, "upload-length": "0", "content-type": OCTETS }, body: new Uint8Array(0) }),
      await client.send(`/api/v1/events/${join_token}/resumable`, {
        method: "POST",
        headers: { ...IETF, "upload-complete": "?0", "upload-length": "0", "content-type": "image/jpeg", "x-device-id": device },
        body: new Uint8Array(0),
      }),
      // A complete IETF upload whose whole body is empty: its length is 0.
      await client.send(`/api/v1/events/${join_token}/resumable`, {
        method: "POST",
        headers: { ...IETF, "upload-complete": "?1", "content-type": "image/jpeg", "x-device-id": device },
        body: new Uint8Array(0),
      }),
    ];
    for (const answer of answers) expectRefusal(answer, 400, "invalid_request", answer.path);
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM upload_sessions WHERE event_id = ? AND device_id = ?").bind(event_id, device).first<{ n: number }>();
    expect(rows!.n).toBe(0);
    await bystander.expectIntact();
  });
});

// --- bodies longer, shorter or cut off ----------------------------------------------------------

describe("bodies longer than their range, cut off, or of unknown length", () => {
  it("tus and IETF: a body (declared) longer than what is left is 413, and nothing of it is kept", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(100_000, 8);
    const tus = await createUpload("tus", join_token, file.byteLength);
    const ietf = await createUpload("ietf", join_token, file.byteLength);
    expect((await tusPatch(tus, 0, file.slice(0, 50_000))).status).toBe(204);
    expect((await ietfPatch(ietf, 0, file.slice(0, 50_000), false)).status).toBe(204);
    const tooLong = new Uint8Array(50_001);
    tooLong.set(file.slice(50_000));
    expectRefusal(await tusPatch(tus, 50_000, tooLong), 413, "beyond_upload_length");
    expectRefusal(await ietfPatch(ietf, 50_000, tooLong, true), 413, "beyond_upload_length");
    await expectUntouched(tus, 50_000);
    await expectUntouched(ietf, 50_000);
    await finishAndCompare(tus, file, 50_000);
    await finishAndCompare(ietf, file, 50_000);
  });

  it("tus: an undeclared (chunked) body that runs past the end is 413; what it kept is a prefix of the file, and the upload is not completed", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(3 * MiB, 9);
    const upload = await createUpload("tus", join_token, file.byteLength);
    const tooLong = new Uint8Array(file.byteLength + 10);
    tooLong.set(file);
    expectRefusal(await tusPatch(upload, 0, chunkedBody(tooLong)), 413, "beyond_upload_length");
    const { status, received_bytes } = await statusOf(upload);
    expect(status).not.toBe("completed");
    expect(received_bytes).toBeLessThan(file.byteLength);
    await finishAndCompare(upload, file, received_bytes);
  });

  it("tus and IETF: an undeclared (chunked) body that fits is accepted, however little room is left", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(300 * 1024, 10);
    const tus = await createUpload("tus", join_token, file.byteLength);
    const ietf = await createUpload("ietf", join_token, file.byteLength);
    const tusAnswer = await tusPatch(tus, 0, chunkedBody(file.slice(0, 1000)));
    expect(tusAnswer.status, JSON.stringify(tusAnswer.json)).toBe(204);
    const ietfAnswer = await ietfPatch(ietf, 0, chunkedBody(file.slice(0, 1000)), false);
    expect(ietfAnswer.status, JSON.stringify(ietfAnswer.json)).toBe(204);
    await expectUntouched(tus, 1000);
    await expectUntouched(ietf, 1000);
    await finishAndCompare(tus, file, 1000);
    await finishAndCompare(ietf, file, 1000);
  });

  // A chunk is all or nothing (README): a body cut off commits none of its bytes, and the answer
  // (if the client is still there to read it) is a 400, not a server error. A dropped connection
  // shows either as the body ending early or as a failed read.
  const drops = { "ends early": cutShortBody, "fails to read": failingBody };
  it.each([
    ["a whole small file, one R2 put", 300 * 1024, 0, 300 * 1024],
    ["a staged tail segment", 2 * MiB, 0, MiB],
    ["across a 5 MiB part boundary", 6 * MiB, 4 * MiB, 6 * MiB],
  ])("guest API: a chunk whose connection drops part-way (%s) is refused with 400, nothing kept", async (_what, size, start, end) => {
    const { join_token } = await createEvent();
    const file = fileBytes(size, 11);
    const upload = await createUpload("guest", join_token, size);
    for (let offset = 0; offset < start; offset += MiB) expect((await putChunk(upload, file, offset, offset + MiB)).status).toBe(204);
    const chunk = file.slice(start, end);
    for (const [how, body] of Object.entries(drops)) {
      for (const delivered of [0, Math.floor(chunk.byteLength / 2), chunk.byteLength - 1]) {
        const answer = await putChunk(upload, file, start, end, { "content-length": String(chunk.byteLength) }, body(chunk, delivered));
        expectRefusal(answer, 400, ["chunk_interrupted", "range_mismatch"], `body ${how} after ${delivered} of ${chunk.byteLength} bytes`);
        await expectUntouched(upload, start);
      }
    }
    await finishAndCompare(upload, file, start);
  });
});

// --- ids and keys from elsewhere ------------------------------------------------------------------

describe("an upload id and key replayed against another event", () => {
  it("every call of every protocol is 404 upload_not_found, and nothing changes in either event", async () => {
    const home = await createEvent();
    const other = await createEvent();
    const file = fileBytes(600 * 1024, 12);
    const uploads = { guest: await createUpload("guest", home.join_token, file.byteLength), tus: await createUpload("tus", home.join_token, file.byteLength), ietf: await createUpload("ietf", home.join_token, file.byteLength) };
    for (const upload of Object.values(uploads)) expect((await putChunk(upload, file, 0, MIN_CHUNK)).status).toBe(204);
    const done = await createUpload("guest", home.join_token, 1000);
    const donePhoto = await finishAndCompare(done, fileBytes(1000, 13), 0);

    for (const [via, upload] of Object.entries(uploads)) {
      const elsewhere = { ...upload, token: other.join_token };
      const attempts: Answer[] = [
        await client.send(guestPath(elsewhere), { method: "GET", headers: { "upload-key": upload.key } }),
        await putChunk(elsewhere, file, MIN_CHUNK, file.byteLength),
        await putChunk(elsewhere, file, 0, MIN_CHUNK), // a replay of accepted bytes, too
        await client.send(guestPath(elsewhere, "/complete"), { method: "POST", headers: { "upload-key": upload.key } }),
        await client.send(guestPath(elsewhere), { method: "DELETE", headers: { "upload-key": upload.key } }),
        await tusPatch(elsewhere, MIN_CHUNK, file.slice(MIN_CHUNK)),
        await client.send(tusPath(elsewhere), { method: "DELETE", headers: TUS }),
        await ietfPatch(elsewhere, MIN_CHUNK, file.slice(MIN_CHUNK), true),
        await client.send(ietfPath(elsewhere), { method: "DELETE", headers: IETF }),
      ];
      for (const answer of attempts) expectRefusal(answer, 404, "upload_not_found", `${via}: ${answer.method} ${answer.path}`);
      for (const head of [await client.send(tusPath(elsewhere), { method: "HEAD", headers: TUS }), await client.send(ietfPath(elsewhere), { method: "HEAD", headers: IETF })]) {
        expect(head.status, head.path).toBe(404);
      }
    }
    // The completed upload's photo cannot be taken back from the other event either.
    const takeBack = await client.send(guestPath({ ...done, token: other.join_token }, "/photo"), { method: "DELETE", headers: { "upload-key": done.key } });
    expectRefusal(takeBack, 404, "upload_not_found");
    expect(await env.DB.prepare("SELECT status FROM photos WHERE id = ?").bind(donePhoto).first()).toEqual({ status: "processing" });

    for (const upload of Object.values(uploads)) {
      await expectUntouched(upload, MIN_CHUNK);
      await finishAndCompare(upload, file, MIN_CHUNK);
    }
    const leaked = await env.DB.prepare("SELECT (SELECT count(*) FROM upload_sessions WHERE event_id = ?) + (SELECT count(*) FROM photos WHERE event_id = ?) AS n")
      .bind(other.event_id, other.event_id)
      .first<{ n: number }>();
    expect(leaked!.n).toBe(0);
  });
});

// --- floods -------------------------------------------------------------------------------------

describe("floods (test limits: 150 a minute per device or upload, 6,000 per IP)", () => {
  // guest-event.test.ts floods guest creates from one device and guest chunks at one upload; these
  // add the standard protocols' appends and the per-IP limit. The limiters count in windows aligned
  // to the wall clock, so a flood runs until its first refusal (at most two windows' allowance).

  it.each(["tus", "ietf"] as const)("a flood of %s appends at one upload is refused with 429 and Retry-After; its bytes stay, others carry on", async (via) => {
    const { join_token } = await createEvent();
    const file = fileBytes(100_000, 14);
    const upload = await createUpload(via, join_token, file.byteLength);
    const append = (offset: number, body: Uint8Array) => (via === "tus" ? tusPatch(upload, offset, body) : ietfPatch(upload, offset, body, false));
    expect((await append(0, file.slice(0, 1000))).status).toBe(204);
    let refused: Answer | undefined;
    for (let i = 0; i < 2 * 150 + 5 && !refused; i++) {
      // Appends at a stale offset: each is counted, none may change anything.
      const answer = await append(0, file.slice(0, 1000));
      if (answer.status === 429) refused = answer;
      else expectRefusal(answer, 409, "chunk_out_of_order");
    }
    expect(refused, "no refusal after two windows' allowance").toBeDefined();
    expectRefusal(refused!, 429, "rate_limited");
    expect(refused!.headers.get("retry-after")).toBe("60");
    await expectUntouched(upload, 1000);
    // Another upload, from the same address, is served.
    const other = await createUpload(via, join_token, file.byteLength);
    await finishAndCompare(other, file, 0);
  });

  /**
   * Spends what is left of an address's per-IP allowance, as the rest of a flood's calls would,
   * straight at the limiter (the key is src/http/rate-limit.ts's): 6,000 HTTP calls take longer
   * than the one-minute window on a loaded CI runner. Returns how many calls were still allowed.
   */
  async function spendIpAllowance(address: string): Promise<number> {
    let allowed = 0;
    for (;;) {
      const results = await Promise.all(Array.from({ length: 250 }, () => env.GUEST_IP_LIMITER.limit({ key: `ip:${address}` })));
      allowed += results.filter((result) => result.success).length;
      if (results.some((result) => !result.success)) return allowed;
    }
  }

  it("a flood from one IP address is refused with 429 rate_limited after 6,000 calls a minute; other addresses are served, and bytes stay", async () => {
    const { join_token } = await createEvent();
    const file = fileBytes(MiB, 15);
    const upload = await createUpload("guest", join_token, file.byteLength);
    expect((await putChunk(upload, file, 0, MIN_CHUNK)).status).toBe(204);
    const floodAddress = client.address;

    // The flood's first calls, each at a different (unknown) upload so only the per-IP limit
    // counts them: far more than one device or upload may make, and none refused.
    const flood = () => client.send(`/api/v1/events/${join_token}/uploads/${crypto.randomUUID()}/chunk`, { method: "PUT", headers: { "upload-key": "x" } });
    const minute = () => Math.floor(Date.now() / 60_000); // the limiter's windows follow the wall clock
    const startedIn = minute();
    for (let round = 0; round < 4; round++) {
      for (const answer of await Promise.all(Array.from({ length: 50 }, flood))) expectRefusal(answer, 400, "range_mismatch");
    }
    const countedSoFar = 2 + 200; // the create, the first chunk and the flood so far
    // Then the rest of the minute's allowance; the next call over HTTP is refused. Should the
    // window roll over in between, the new window's allowance is spent too.
    let refused: Answer | undefined;
    for (let attempt = 0; attempt < 2 && refused?.status !== 429; attempt++) {
      const allowed = await spendIpAllowance(floodAddress);
      if (attempt === 0 && minute() === startedIn) expect(allowed + countedSoFar).toBe(6000);
      refused = await flood();
    }
    expectRefusal(refused!, 429, "rate_limited");
    expect(refused!.headers.get("retry-after")).toBe("60");
    // The address is refused for every guest call that is limited, and the upload's bytes are unchanged.
    expectRefusal(await putChunk(upload, file, MIN_CHUNK, 2 * MIN_CHUNK), 429, "rate_limited");
    await expectUntouched(upload, MIN_CHUNK);

    // A phone on another address is served, and this one carries on from a new address.
    client.newAddress();
    expect(client.address).not.toBe(floodAddress);
    await createUpload("tus", join_token, 1000);
    await finishAndCompare(upload, file, MIN_CHUNK);
  });
});
