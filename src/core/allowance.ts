/**
 * The event's per-guest photo allowance (max_photos_per_guest, POV-style "24 shots"): what a
 * device has used and has left. Creates enforce it atomically (admission.ts); batch registration
 * refuses the files past it up front (batches.ts).
 */
import { and, count, eq, inArray } from "drizzle-orm";
import { database, type Database } from "../db/client";
import { activeUploadStatuses, uploadSessions } from "../db/schema";
import { resolveJoinToken } from "./events";
import type { Refusal } from "./errors";

/** Statuses that count against a device's daily cap and photo allowance (cancelled, failed and expired sessions do not). */
export const countedStatuses = [...activeUploadStatuses, "completed"] as const;

/**
 * How many of the event's per-guest photos a device (or, for anonymous uploads, an address) has
 * used: its uploads in flight or completed, partials aside (a tus final counts once). A photo
 * taken back still counts, as a disposable camera's shot would.
 */
export async function photosUsed(db: Database, eventId: string, deviceId: string): Promise<number> {
  const [used] = await db
    .select({ n: count() })
    .from(uploadSessions)
    .where(
      and(
        eq(uploadSessions.eventId, eventId),
        eq(uploadSessions.deviceId, deviceId),
        eq(uploadSessions.partial, false),
        inArray(uploadSessions.status, countedStatuses),
      ),
    );
  return used?.n ?? 0;
}

/** The refusal of a create or batch file past the allowance: 403, as waiting does not bring photos back. */
export function photoLimitRefusal(maxPhotos: number, scope: "device" | "address" = "device"): Refusal {
  const who = scope === "device" ? "A device" : "Uploads without a device id from one address";
  return {
    status: 403,
    code: "photo_limit",
    message: `${who} may upload at most ${maxPhotos} photos to this event, and has no more left.`,
    details: { limit: scope === "device" ? "photos_per_guest" : "photos_per_guest_per_address", max_photos_per_guest: maxPhotos, photos_left: 0 },
  };
}

/** What the guest app shows as "17 of 24 left": null figures when the event sets no allowance. */
export async function deviceAllowance(env: Env, joinToken: string, deviceId: string) {
  const db = database(env);
  const { event } = await resolveJoinToken(db, joinToken);
  const used = await photosUsed(db, event.id, deviceId);
  const max = event.maxPhotosPerGuest;
  return { max_photos_per_guest: max, photos_used: used, photos_left: max === null ? null : Math.max(0, max - used) };
}
