/**
 * An event's approved photos as one ZIP, streamed from R2 through the Worker: client-zip writes
 * stored (uncompressed: JPEGs don't shrink) entries as each original is read, so memory stays
 * flat whatever the event's size, and the exact length is known up front for the progress bar.
 * Unless the event keeps GPS, the originals go without their location (location.ts), at the same length.
 */
import { makeZip, predictLength } from "client-zip";
import { and, asc, eq, inArray, isNotNull } from "drizzle-orm";
import { database } from "../db/client";
import { events, photos } from "../db/schema";
import { archiveEntryNames } from "../core/filenames";
import { allMessages, messagesCsv } from "../core/guestbook";
import { folderName } from "../core/words";
import { logLine } from "../lib/log";
import { LocationUnremovableError, locationPatches, patchedBody } from "./location";
import { downloadHeaders } from "./serve-object";

/** How a ZIP lays out its photos: all in its root, or in a folder per guest's name. */
export type ArchiveLayout = "none" | "names";

/** The photos a ZIP of the event holds: approved and visible, oldest first. */
export async function archiveContents(env: Env, eventId: string, layout: ArchiveLayout) {
  const rows = await database(env)
    .select({
      id: photos.id,
      key: photos.originalKey,
      filename: photos.filename,
      contentType: photos.contentType,
      size: photos.size,
      takenAt: photos.takenAt,
      createdAt: photos.createdAt,
      displayName: photos.displayName,
    })
    .from(photos)
    .where(and(eq(photos.eventId, eventId), inArray(photos.status, ["ready"]), isNotNull(photos.approvedAt)))
    .orderBy(asc(photos.createdAt), asc(photos.id));
  const names = archiveEntryNames(layout === "names" ? rows.map((row) => ({ ...row, folder: folderName(row.displayName) })) : rows);
  return rows.map((row, i) => ({ ...row, name: names[i]!, lastModified: new Date(row.takenAt ?? row.createdAt) }));
}

/** The approved, visible guestbook messages, as the ZIP's messages.csv (none when there are none). */
async function messagesEntry(env: Env, eventId: string) {
  const rows = await allMessages(database(env), eventId, { status: "visible", approved: true });
  if (rows.length === 0) return [];
  const input = new TextEncoder().encode(messagesCsv(rows));
  return [{ name: "messages.csv", lastModified: new Date(rows.at(-1)!.createdAt), size: input.byteLength, input }];
}

export async function serveArchive(env: Env, eventId: string, layout: ArchiveLayout): Promise<Response | null> {
  const event = await database(env).select({ name: events.name, keepGps: events.keepGps }).from(events).where(eq(events.id, eventId)).get();
  if (!event) return null;
  const entries = await archiveContents(env, eventId, layout);
  const extras = await messagesEntry(env, eventId);
  const length = Number(predictLength([...entries, ...extras].map((entry) => ({ name: entry.name, size: entry.size }))));
  const bucket = env.PHOTOS;
  const { keepGps } = event;
  async function* files() {
    for (const entry of entries) {
      // Opened one at a time, as the archive reaches it.
      const patches = keepGps ? [] : await locationPatches(bucket, entry.key, entry.contentType).catch(unremovable);
      const file = { name: entry.name, lastModified: entry.lastModified, size: entry.size };
      if (!patches) {
        // Its location cannot be removed for certain: the entry keeps its place and length, as zeros.
        logLine("warn", "archive_entry_blanked", { event_id: eventId, photo_id: entry.id });
        yield { ...file, input: zeros(entry.size) };
        continue;
      }
      const object = await bucket.get(entry.key);
      if (!object) throw new Error(`photo ${entry.id}: its original ${entry.key} is missing`);
      yield { ...file, input: patchedBody(object.body, entry.size, patches) };
    }
    yield* extras;
  }
  const sized = new FixedLengthStream(length);
  // A failure midway errors the stream: the client sees a broken download, never a short "complete" one.
  makeZip(files())
    .pipeTo(sized.writable)
    .catch((error) => logLine("error", "archive_failed", { event_id: eventId, error: String(error) }));
  const headers = downloadHeaders({ contentType: "application/zip", filename: `${event.name}.zip`, disposition: "attachment", maxAgeSeconds: 0 });
  headers.set("Cache-Control", "no-store");
  headers.set("Content-Length", String(length));
  return new Response(sized.readable, { headers });
}

const unremovable = (error: unknown) => {
  if (error instanceof LocationUnremovableError) return null;
  throw error;
};

/** `length` zero bytes, a small chunk at a time. */
function zeros(length: number): ReadableStream<Uint8Array> {
  let left = length;
  return new ReadableStream({
    pull(controller) {
      const chunk = Math.min(left, 64 * 1024);
      left -= chunk;
      if (chunk) controller.enqueue(new Uint8Array(chunk));
      else controller.close();
    },
  });
}
