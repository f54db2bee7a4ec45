/**
 * Names and words (issue 16): guests' display names on uploads and photos, the guestbook, and
 * what organisers do with them (filter, moderate, export as CSV, ZIP folders per name).
 */
import { env } from "cloudflare:workers";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { postMessage } from "../../src/core/guestbook";
import { cleanDisplayName, cleanMessage, folderName } from "../../src/core/words";
import { call, createEvent, createUploadRequest, errorCode, fileBytes, newDevice, sha256Hex } from "./helpers";
import { uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, init: { method?: string; body?: unknown } = {}) =>
  call(`/api/v1/admin${path}`, { method: init.method ?? "GET", headers: bootstrap, ...(init.body ? { body: JSON.stringify(init.body) } : {}) });
const fetchUrl = (url: string) => {
  const { pathname, search } = new URL(url);
  return call(pathname + search);
};

interface PhotoView {
  photo_id: string;
  display_name: string | null;
}
interface MessageView {
  message_id: string;
  display_name: string | null;
  body: string;
  status: string;
  approved: boolean;
}

const photoOf = async (eventId: string, photoId: string) => (await admin(`/events/${eventId}/photos/${photoId}`)).json<PhotoView>();
const photoIds = async (eventId: string, query: string) =>
  (await (await admin(`/events/${eventId}/photos?${query}`)).json<{ photos: PhotoView[] }>()).photos.map((photo) => photo.photo_id);

function leaveMessage(token: string, body: Record<string, unknown>) {
  return call(`/api/v1/events/${token}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ device_id: newDevice(), message: "Congratulations!", ...body }),
  });
}

async function messagesOf(eventId: string, query = ""): Promise<MessageView[]> {
  const response = await admin(`/events/${eventId}/messages${query}`);
  expect(response.status).toBe(200);
  return (await response.json<{ messages: MessageView[] }>()).messages;
}

describe("normalising guests' words", () => {
  it("keeps names to one line of visible text: NFC, no controls, bidi overrides or invisibles, whitespace collapsed", () => {
    expect(cleanDisplayName("  Ana\u0301\t\tMaría \n ")).toBe("Aná María");
    // A right-to-left override would make "gpj.exe" read as "exe.jpg".
    expect(cleanDisplayName("Ben\u202egpj.exe")).toBe("Bengpj.exe");
    expect(cleanDisplayName("\u2066Chloé\u2069\u200b\u0000\u001b[31m")).toBe("Chloé[31m");
    expect(cleanDisplayName("\ud800Dan\ufeff")).toBe("Dan");
    // Combining marks past four on one letter are dropped; emoji with joiners survive.
    expect(cleanDisplayName(`E${"\u0336".repeat(40)}va`)).toBe(`E${"\u0336".repeat(4)}va`);
    expect(cleanDisplayName("👩‍👩‍👧 family")).toBe("👩‍👩‍👧 family");
    expect(cleanDisplayName(" \u202e\u200b ")).toBe("");
  });

  it("keeps a message's paragraphs but not more than one blank line, nor trailing spaces", () => {
    expect(cleanMessage("Dear Ana,\r\n\r\n\r\n\r\nall the best!  \u2028Ben\u202e ")).toBe("Dear Ana,\n\nall the best!\nBen");
  });

  it("makes folder names safe on every desktop OS, with 'Unnamed' for none", () => {
    expect(folderName(null)).toBe("Unnamed");
    expect(folderName(" . ")).toBe("Unnamed");
    expect(folderName("../../etc/passwd")).toBe("_.._etc_passwd");
    expect(folderName('Ana: "the" <best>?')).toBe("Ana_ _the_ _best__");
    expect(folderName("CON")).toBe("_CON");
    expect(folderName("nul.txt")).toBe("_nul.txt");
    expect(folderName("Zoë.")).toBe("Zoë");
  });
});

describe("display names on uploads and photos", () => {
  it("a create's display_name, normalised, is on its photo for organisers", async () => {
    const { event_id, join_token } = await createEvent();
    const { photoId } = await uploadPhoto(fileBytes(2000), { token: join_token, extra: { display_name: " Zoe\u0308\u202e  <script>alert(1)</script> " } });
    // Text only: markup is kept as the characters the guest typed, for the apps to show as text.
    expect((await photoOf(event_id, photoId)).display_name).toBe("Zoë <script>alert(1)</script>");
  });

  it("refuses names too long to be names, before any work, and leaves blank ones out", async () => {
    const { event_id, join_token } = await createEvent();
    for (const display_name of ["x".repeat(10 * 1024), "é".repeat(61), 42]) {
      const response = await createUploadRequest(join_token, { size: 1000, display_name });
      expect(response.status).toBe(400);
      expect(await errorCode(response)).toBe("invalid_request");
    }
    // Sixty letters is fine, however many UTF-16 units they take.
    expect((await createUploadRequest(join_token, { size: 1000, display_name: "😀".repeat(60) })).status).toBe(201);
    const { photoId } = await uploadPhoto(fileBytes(2000), { token: join_token, extra: { display_name: " \u200b\t" } });
    expect((await photoOf(event_id, photoId)).display_name).toBeNull();
  });

  it("tus uploads carry it as metadata display_name (base64 UTF-8), and a bad one is refused", async () => {
    const { join_token } = await createEvent();
    const metadata = (name: string) => `filename ${btoa("a.jpg")},filetype ${btoa("image/jpeg")},device_id ${btoa(newDevice())},display_name ${btoa(String.fromCharCode(...new TextEncoder().encode(name)))}`;
    const tusCreate = (name: string) =>
      call(`/api/v1/events/${join_token}/tus/`, { method: "POST", headers: { "tus-resumable": "1.0.0", "upload-length": "1000", "upload-metadata": metadata(name) } });
    const created = await tusCreate("Zoë");
    expect(created.status).toBe(201);
    const uploadId = created.headers.get("location")!.split("/").at(-1)!.split(".")[0]!;
    const row = await env.DB.prepare("SELECT display_name FROM upload_sessions WHERE id = ?").bind(uploadId).first<{ display_name: string }>();
    expect(row?.display_name).toBe("Zoë");
    const refused = await tusCreate("x".repeat(300));
    expect(refused.status).toBe(400);
    expect(await errorCode(refused)).toBe("invalid_metadata");
  });

  it("IETF resumable uploads carry it as X-Display-Name (percent-encoded UTF-8), and a bad one is refused", async () => {
    const { join_token } = await createEvent();
    const ietfCreate = (name: string) =>
      call(`/api/v1/events/${join_token}/resumable`, {
        method: "POST",
        headers: { "upload-draft-interop-version": "9", "upload-complete": "?0", "upload-length": "1000", "content-type": "image/jpeg", "x-device-id": newDevice(), "x-display-name": name },
      });
    const created = await ietfCreate(encodeURIComponent("Zoë\u202e"));
    expect(created.status, await created.clone().text()).toBe(201);
    const uploadId = created.headers.get("location")!.split("/").at(-1)!.split(".")[0]!;
    const row = await env.DB.prepare("SELECT display_name FROM upload_sessions WHERE id = ?").bind(uploadId).first<{ display_name: string }>();
    expect(row?.display_name).toBe("Zoë");
    for (const bad of ["%E0%A4%A", encodeURIComponent("x".repeat(61))]) {
      const refused = await ietfCreate(bad);
      expect(refused.status).toBe(400);
      expect(await errorCode(refused)).toBe("invalid_request");
    }
  });

  it("a batch's uploads carry the batch's name unless they give their own", async () => {
    const { join_token } = await createEvent();
    const device = newDevice();
    const registered = await call(`/api/v1/events/${join_token}/batches`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        device_id: device,
        display_name: "Fatima",
        files: ["a", "b"].map((id) => ({ client_id: id, filename: `${id}.jpg`, size: 1000, content_type: "image/jpeg" })),
      }),
    });
    expect(registered.status).toBe(201);
    const batch = await registered.json<{ batch_id: string; batch_key: string; files: Array<{ file_id: string }> }>();
    const names = [];
    for (const [i, own] of [undefined, "Fatima B."].entries()) {
      const response = await call(`/api/v1/events/${join_token}/uploads`, {
        method: "POST",
        headers: { "content-type": "application/json", "batch-key": batch.batch_key },
        body: JSON.stringify({ filename: "a.jpg", size: 1000, content_type: "image/jpeg", device_id: device, batch_id: batch.batch_id, batch_file_id: batch.files[i]!.file_id, display_name: own }),
      });
      expect(response.status).toBe(201);
      const { upload_id } = await response.json<{ upload_id: string }>();
      names.push((await env.DB.prepare("SELECT display_name FROM upload_sessions WHERE id = ?").bind(upload_id).first<{ display_name: string }>())?.display_name);
    }
    expect(names).toEqual(["Fatima", "Fatima B."]);
  });

  it("organisers filter photos by name (normalised like names are; empty for none) and list the names", async () => {
    const { event_id, join_token } = await createEvent();
    const ana = await uploadPhoto(fileBytes(2000, 1), { token: join_token, extra: { display_name: "Ana" } });
    const ben = await uploadPhoto(fileBytes(2000, 2), { token: join_token, extra: { display_name: "Ben" } });
    const nobody = await uploadPhoto(fileBytes(2000, 3), { token: join_token });
    expect(await photoIds(event_id, "display_name=Ana")).toEqual([ana.photoId]);
    expect(await photoIds(event_id, `display_name=${encodeURIComponent(" Ben\u202e ")}`)).toEqual([ben.photoId]);
    expect(await photoIds(event_id, "display_name=")).toEqual([nobody.photoId]);
    expect(await photoIds(event_id, "display_name=ana")).toEqual([]);
    const names = await (await admin(`/events/${event_id}/names`)).json<{ names: unknown[] }>();
    expect(names.names).toEqual([
      { display_name: null, photos: 1 },
      { display_name: "Ana", photos: 1 },
      { display_name: "Ben", photos: 1 },
    ]);
  });
});

describe("the guestbook", () => {
  it("takes a normalised message, approved at once in an auto event, and organisers read it", async () => {
    const { event_id, join_token } = await createEvent();
    const response = await leaveMessage(join_token, { display_name: "Ana\u202e", message: "  Dear Ben,\r\n\r\n\r\n<b>all</b> the best\u0000! " });
    expect(response.status).toBe(201);
    const created = await response.json<{ message_id: string; approved: boolean }>();
    expect(created.approved).toBe(true);
    const [message] = await messagesOf(event_id);
    expect(message).toMatchObject({ message_id: created.message_id, display_name: "Ana", body: "Dear Ben,\n\n<b>all</b> the best!", status: "visible", approved: true });
  });

  it("caps a message at 1,000 characters and refuses empty ones and unknown fields", async () => {
    const { join_token } = await createEvent();
    expect((await leaveMessage(join_token, { message: "ü".repeat(1000) })).status).toBe(201);
    for (const body of [{ message: "ü".repeat(1001) }, { message: "x".repeat(10_000) }, { message: " \u202e\n\n " }, { message: "hi", photo_url: "x" }]) {
      const refused = await leaveMessage(join_token, body);
      expect(refused.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(await errorCode(refused)).toBe("invalid_request");
    }
    // A body far past the JSON cap is refused unread.
    const huge = await leaveMessage(join_token, { message: "x".repeat(100_000) });
    expect(huge.status).toBe(413);
  });

  it("follows the event's moderation: in review, messages wait for an organiser, who may hide and show them", async () => {
    const { event_id, join_token } = await createEvent({ moderation_mode: "review" });
    const created = await (await leaveMessage(join_token, { message: "Hello" })).json<{ message_id: string; approved: boolean }>();
    expect(created.approved).toBe(false);
    expect(await messagesOf(event_id, "?approved=true")).toEqual([]);
    const act = (action: string) => admin(`/events/${event_id}/messages/${created.message_id}/${action}`, { method: "POST" });
    expect((await (await act("approve")).json<MessageView>()).approved).toBe(true);
    expect((await messagesOf(event_id, "?approved=true&status=visible")).map((m) => m.message_id)).toEqual([created.message_id]);
    expect((await (await act("hide")).json<MessageView>()).status).toBe("hidden");
    expect(await messagesOf(event_id, "?approved=true&status=visible")).toEqual([]);
    expect((await (await act("unhide")).json<MessageView>()).status).toBe("visible");
    expect((await act("delete")).status).toBe(404);
    // Another event's organiser action finds nothing.
    const other = await createEvent();
    expect((await admin(`/events/${other.event_id}/messages/${created.message_id}/hide`, { method: "POST" })).status).toBe(404);
  });

  it("bounds what strangers can store: a quota per device and per event", async () => {
    const { event_id, join_token } = await createEvent();
    const device = newDevice();
    for (let i = 0; i < 20; i++) expect((await leaveMessage(join_token, { device_id: device, message: `hi ${i}` })).status).toBe(201);
    const refused = await leaveMessage(join_token, { device_id: device });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { code: "message_limit", limit: "messages_per_device", max_messages_per_device: 20 } });
    // Another device still may, until the event is full.
    expect((await leaveMessage(join_token, {})).status).toBe(201);
    const full = postMessage(env, join_token, { deviceId: newDevice(), displayName: undefined, body: "one more" }, { perDevice: 20, perEvent: 21 });
    await expect(full).rejects.toMatchObject({ code: "message_limit", details: { limit: "messages_per_event" } });
    expect(await messagesOf(event_id, "?limit=200")).toHaveLength(21);
  });

  it("is closed with its event, and unknown links find nothing", async () => {
    const { event_id, join_token } = await createEvent();
    await admin(`/events/${event_id}`, { method: "PATCH", body: { status: "closed" } });
    const closed = await leaveMessage(join_token, {});
    expect(closed.status).toBe(403);
    expect(await errorCode(closed)).toBe("event_closed");
    expect((await leaveMessage("not-a-token-at-all-0000", {})).status).toBe(404);
  });

  it("exports CSV whose cells cannot run as spreadsheet formulas and whose quotes and lines stay in their cell", async () => {
    const { event_id, join_token } = await createEvent();
    const hostile = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2", "@SUM(A1)", 'say "hi",\nthen leave'];
    for (const message of hostile) expect((await leaveMessage(join_token, { display_name: "=cmd|' /C calc'!A0", message })).status).toBe(201);
    const response = await admin(`/events/${event_id}/messages.csv`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("content-disposition")).toBe('attachment; filename="messages.csv"');
    const bytes = new Uint8Array(await response.arrayBuffer());
    // A BOM first, so spreadsheets read the names as UTF-8.
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const csv = new TextDecoder().decode(bytes);
    expect(csv.startsWith("created_at,display_name,message,status,approved\r\n")).toBe(true);
    const rows = csv.trimEnd().split(/\r\n/).slice(1);
    expect(rows).toHaveLength(hostile.length);
    expect(rows[0]).toMatch(/^"[^"]+","'=cmd\|' \/C calc'!A0","'=HYPERLINK\(""http:\/\/evil\.example"",""click""\)","visible","yes"$/);
    expect(rows.slice(1, 4).map((row) => row.split(",")[2])).toEqual(['"\'+1+1"', '"\'-2"', '"\'@SUM(A1)"']);
    expect(rows[4]).toContain('"say ""hi"",\nthen leave"');
  });
});

describe("the ZIP, with folders per name and the guestbook", () => {
  it("puts each guest's photos in a folder of their name ('Unnamed' for none) and adds messages.csv of approved messages", async () => {
    const { event_id, join_token } = await createEvent();
    await uploadPhoto(fileBytes(1500, 1), { token: join_token, filename: "a.jpg", extra: { display_name: "Ana" } });
    await uploadPhoto(fileBytes(1500, 2), { token: join_token, filename: "b.jpg", extra: { display_name: "../Ben:" } });
    await uploadPhoto(fileBytes(1500, 3), { token: join_token, filename: "c.jpg" });
    // As processing leaves them in an auto event (the bytes are not images, so stand in for it).
    await env.DB.prepare(`UPDATE photos SET status = 'ready', content_type = 'image/jpeg', approved_at = 1 WHERE event_id = ?`).bind(event_id).run();
    await leaveMessage(join_token, { display_name: "Ana", message: "Lovely day" });
    const hidden = await (await leaveMessage(join_token, { message: "not for the archive" })).json<{ message_id: string }>();
    await admin(`/events/${event_id}/messages/${hidden.message_id}/hide`, { method: "POST" });

    const link = await (await admin(`/events/${event_id}/download?folders=names`, { method: "POST" })).json<{ url: string; photo_count: number }>();
    expect(link.photo_count).toBe(3);
    expect(new URL(link.url).pathname).toBe(`/api/v1/files/events/${event_id}/photos-by-name.zip`);
    const entries = unzipSync(new Uint8Array(await (await fetchUrl(link.url)).arrayBuffer()));
    const names = Object.keys(entries);
    expect(names.map((name) => name.replace(/\/.*_/, "/…_"))).toEqual(["Ana/…_a.jpg", "_Ben_/…_b.jpg", "Unnamed/…_c.jpg", "messages.csv"]);
    expect(await sha256Hex(entries[names[1]!]!)).toBe(await sha256Hex(fileBytes(1500, 2)));
    const csv = new TextDecoder().decode(entries["messages.csv"]);
    expect(csv).toContain('"Ana","Lovely day","visible","yes"');
    expect(csv).not.toContain("not for the archive");

    // Without the option the photos stay in the root; the layout is part of what is signed.
    const flat = await (await admin(`/events/${event_id}/download`, { method: "POST" })).json<{ url: string }>();
    expect(Object.keys(unzipSync(new Uint8Array(await (await fetchUrl(flat.url)).arrayBuffer()))).filter((name) => name.includes("/"))).toEqual([]);
    const swapped = flat.url.replace("photos.zip", "photos-by-name.zip");
    expect((await fetchUrl(swapped)).status).toBe(403);
  });

  it("the slideshow's messages are an event setting", async () => {
    const { event_id } = await createEvent({ slideshow_messages: true });
    expect((await (await admin(`/events/${event_id}`)).json<{ slideshow_messages: boolean }>()).slideshow_messages).toBe(true);
    const updated = await admin(`/events/${event_id}`, { method: "PATCH", body: { slideshow_messages: false } });
    expect((await updated.json<{ slideshow_messages: boolean }>()).slideshow_messages).toBe(false);
  });
});
