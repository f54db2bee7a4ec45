/**
 * A download is saved under the guest's name with the extension of the type sniffed from its
 * bytes, and says that type: nothing a guest names can be saved, served or listed as a page.
 */
import { env } from "cloudflare:workers";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { makeJpeg } from "../fixtures/photos";
import { call, createEvent } from "./helpers";
import { deliver, uploadPhoto } from "./photo-helpers";

const bootstrap = { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" };
const admin = (path: string, method = "GET") => call(`/api/v1/admin${path}`, { method, headers: bootstrap });
const fetchUrl = (url: string) => {
  const { pathname, search } = new URL(url);
  return call(pathname + search);
};

interface PhotoView {
  photo_id: string;
  status: string;
  filename: string;
  download_name: string;
  urls: { original: string; scrubbed: string | null; thumb_256: string | null };
}

async function listed(eventId: string): Promise<PhotoView[]> {
  return (await (await admin(`/events/${eventId}/photos`)).json<{ photos: PhotoView[] }>()).photos;
}

/** Every name a download of the photo is saved under, and the types it is served with. */
async function servedAs(url: string) {
  const response = await fetchUrl(url);
  expect(response.status).toBe(200);
  return {
    type: response.headers.get("content-type"),
    disposition: response.headers.get("content-disposition"),
    nosniff: response.headers.get("x-content-type-options"),
  };
}

describe("download names", () => {
  it("a JPEG named party.html with markup in its comment downloads, zips and lists as party.jpg, image/jpeg", async () => {
    const event = await createEvent();
    const jpeg = makeJpeg({ width: 160, height: 120, comment: "<img src=x onerror=alert(document.domain)>" });
    const { job, photoId } = await uploadPhoto(jpeg, { token: event.join_token, filename: "party.html" });
    await deliver([job]);

    const [photo] = await listed(event.event_id);
    expect(photo).toMatchObject({ photo_id: photoId, status: "ready", download_name: "party.jpg" });

    expect(await servedAs(photo!.urls.original)).toEqual({
      type: "image/jpeg",
      disposition: `attachment; filename="party.jpg"; filename*=UTF-8''party.jpg`,
      nosniff: "nosniff",
    });
    expect(await servedAs(photo!.urls.scrubbed!)).toMatchObject({ type: "image/jpeg", disposition: `inline; filename="party.jpg"; filename*=UTF-8''party.jpg` });
    expect((await servedAs(photo!.urls.thumb_256!)).disposition).toMatch(/^inline; filename="party-256\.webp"/);

    const link = await (await admin(`/events/${event.event_id}/download`, "POST")).json<{ url: string }>();
    const names = Object.keys(unzipSync(new Uint8Array(await (await fetchUrl(link.url)).arrayBuffer())));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_party\.jpg$/);
  });

  it("a file that failed processing downloads as .bin, application/octet-stream, whatever the guest declared", async () => {
    // Served only by events that keep locations: elsewhere a file of no accepted type is refused (download-location-unknown-types.test.ts).
    const event = await createEvent({ keep_gps: true });
    const page = new TextEncoder().encode("<html><body><script>alert(document.cookie)</script></body></html>");
    const { job, photoId } = await uploadPhoto(page, { token: event.join_token, filename: "notes.html", contentType: "image/jpeg" });
    await deliver([job]);

    const [photo] = await listed(event.event_id);
    expect(photo).toMatchObject({ photo_id: photoId, status: "failed", download_name: "notes.bin" });
    expect(await servedAs(photo!.urls.original)).toEqual({
      type: "application/octet-stream",
      disposition: `attachment; filename="notes.bin"; filename*=UTF-8''notes.bin`,
      nosniff: "nosniff",
    });
  });

  it("names stay safe to save on every desktop OS, and keep the guest's stem", async () => {
    const event = await createEvent();
    const names = ["IMG_0001.JPEG", 'a<b>:c"d|e?f*.heic', "trailing dots. . .jpg", ".htaccess", "no extension"];
    for (const filename of names) {
      const { job } = await uploadPhoto(makeJpeg({ width: 64, height: 48 + names.indexOf(filename) }), { token: event.join_token, filename });
      await deliver([job]);
    }
    const saved = (await listed(event.event_id)).map((photo) => photo.download_name).sort();
    expect(saved).toEqual(["IMG_0001.jpg", "a_b__c_d_e_f_.jpg", "no extension.jpg", "photo.jpg", "trailing dots.jpg"]);
  });
});
