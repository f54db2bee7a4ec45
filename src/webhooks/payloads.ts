/**
 * What each webhook message says. Every body is `{type, timestamp, data}` (the Standard Webhooks
 * convention); `data` names things as the admin API does. No GPS, no signed URLs (they would
 * expire before a late retry), no device or guest secrets.
 */
import type { EventRow, PhotoRow, WebhookMessageType } from "../db/schema";
import type { ModerationAction } from "../admin/photos";
import { isoOrNull } from "../lib/time";

export interface WebhookBody<T extends WebhookMessageType = WebhookMessageType> {
  type: T;
  /** When it happened (ISO 8601); the same on every attempt. */
  timestamp: string;
  data: Record<string, unknown>;
}

export function photoData(photo: PhotoRow) {
  return {
    event_id: photo.eventId,
    photo_id: photo.id,
    status: photo.status,
    approved: photo.approvedAt !== null,
    filename: photo.filename,
    content_type: photo.contentType ?? photo.declaredContentType,
    media_kind: photo.mediaKind,
    duration_s: photo.durationSeconds,
    size: photo.size,
    width: photo.width,
    height: photo.height,
    taken_at: isoOrNull(photo.takenAt),
    uploaded_at: isoOrNull(photo.createdAt),
    duplicate_of: photo.duplicateOf,
    failure_reason: photo.failureReason,
  };
}

export const moderatedData = (photo: PhotoRow, action: ModerationAction) => ({ ...photoData(photo), action });

export const eventClosedData = (event: EventRow) => ({ event_id: event.id, name: event.name, status: event.status, closed_at: isoOrNull(event.updatedAt) });

/** A guest's guestbook message, as the guestbook (not built yet) will hand it over. */
export interface GuestbookMessage {
  id: string;
  eventId: string;
  text: string;
  authorName: string | null;
  photoIds: string[];
  /** Whether guests see it (the event's moderation mode decides). */
  visible: boolean;
  createdAt: number;
}

export const messageData = (message: GuestbookMessage) => ({
  event_id: message.eventId,
  message_id: message.id,
  text: message.text,
  author_name: message.authorName,
  photo_ids: message.photoIds,
  visible: message.visible,
  created_at: isoOrNull(message.createdAt),
});

export const testData = (eventId: string | null, webhookId: string) => ({
  event_id: eventId,
  webhook_id: webhookId,
  message: "A test delivery, sent from the dashboard or the admin API.",
});
