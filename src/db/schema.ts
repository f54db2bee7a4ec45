/**
 * The D1 schema: the one place tables are defined. Migrations in `migrations/` are generated
 * from this file by drizzle-kit (`npm run db:generate`); row types are inferred from it.
 */
import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Milliseconds since the epoch; every timestamp in the schema uses it. */
const epochMs = (name: string) => integer(name);
const createdAt = () => epochMs("created_at").notNull().default(sql`(unixepoch('subsec') * 1000)`);

export const eventStatuses = ["open", "closed", "archived"] as const;
export const moderationModes = ["auto", "review"] as const;

export const events = sqliteTable("events", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  status: text("status", { enum: eventStatuses }).notNull().default("open"),
  maxFileSize: integer("max_file_size").notNull(),
  chunkSize: integer("chunk_size").notNull(),
  sessionTtlSeconds: integer("session_ttl_seconds").notNull(),
  maxConcurrentPerDevice: integer("max_concurrent_per_device").notNull(),
  dailyCapPerDevice: integer("daily_cap_per_device").notNull(),
  /** JSON array of accepted MIME types. */
  allowedContentTypes: text("allowed_content_types", { mode: "json" }).$type<string[]>().notNull(),
  /** Whether photos' GPS coordinates are kept (for organisers only); off by default. */
  keepGps: integer("keep_gps", { mode: "boolean" }).notNull().default(false),
  /** When the event takes place (informational). */
  startsAt: epochMs("starts_at"),
  endsAt: epochMs("ends_at"),
  /** A scheduled upload window: while `open`, uploads are accepted only inside it (either end optional). */
  uploadsOpenAt: epochMs("uploads_open_at"),
  uploadsCloseAt: epochMs("uploads_close_at"),
  /** `auto`: photos are shown once processed; `review`: only after an organiser approves them. */
  moderationMode: text("moderation_mode", { enum: moderationModes }).notNull().default("auto"),
  /** Whether guests see the approved photos. */
  galleryEnabled: integer("gallery_enabled", { mode: "boolean" }).notNull().default(false),
  /** Reveal later (the disposable-camera mode): until then guests see only their own uploads. Null: no wait. */
  galleryOpensAt: epochMs("gallery_opens_at"),
  /** How many photos one device may upload to the whole event (POV-style "24 shots"); null: no such limit. */
  maxPhotosPerGuest: integer("max_photos_per_guest"),
  /** Whether the slideshow shows approved guestbook messages between photos. */
  slideshowMessages: integer("slideshow_messages", { mode: "boolean" }).notNull().default(false),
  /** Videos (issue 15): whether guests may upload them, and their own size and duration caps. */
  videosAllowed: integer("videos_allowed", { mode: "boolean" }).notNull().default(true),
  maxVideoSize: integer("max_video_size").notNull().default(500 * 1024 * 1024),
  maxVideoDurationSeconds: integer("max_video_duration_s").notNull().default(600),
  createdAt: createdAt(),
  updatedAt: epochMs("updated_at").notNull(),
});

export const joinTokens = sqliteTable(
  "join_tokens",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    /** SHA-256 (hex) of the token; the token itself is only ever shown once. */
    tokenHash: text("token_hash").notNull(),
    label: text("label"),
    expiresAt: epochMs("expires_at"),
    revokedAt: epochMs("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("join_tokens_token_hash").on(t.tokenHash), index("join_tokens_event").on(t.eventId)],
);

/** Admin API tokens (besides Cloudflare Access and the bootstrap ADMIN_TOKEN), stored hashed. */
export const adminTokens = sqliteTable(
  "admin_tokens",
  {
    id: text("id").primaryKey(),
    name: text("name").notNull(),
    /** SHA-256 (hex) of the token; the token itself is shown once. */
    tokenHash: text("token_hash").notNull(),
    /** The events this token may act on; null for a global admin. */
    eventIds: text("event_ids", { mode: "json" }).$type<string[] | null>(),
    expiresAt: epochMs("expires_at"),
    revokedAt: epochMs("revoked_at"),
    lastUsedAt: epochMs("last_used_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("admin_tokens_token_hash").on(t.tokenHash)],
);

export const uploadStatuses = [
  "pending",
  "uploading",
  "assembling",
  "completed",
  "failed",
  "cancelled",
  "expired",
] as const;
export type UploadStatus = (typeof uploadStatuses)[number];
export const activeUploadStatuses = ["pending", "uploading", "assembling"] as const satisfies UploadStatus[];

export const uploadSessions = sqliteTable(
  "upload_sessions",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    joinTokenId: text("join_token_id")
      .notNull()
      .references(() => joinTokens.id),
    deviceId: text("device_id").notNull(),
    status: text("status", { enum: uploadStatuses }).notNull().default("pending"),
    totalSize: integer("total_size").notNull(),
    /** Progress mirror for listings; the session's Durable Object is the authority. */
    receivedBytes: integer("received_bytes").notNull().default(0),
    chunkSize: integer("chunk_size").notNull(),
    expiresAt: epochMs("expires_at").notNull(),
    failureReason: text("failure_reason"),
    /** Where the assembled upload lands in R2 (never derived from user input). */
    r2Key: text("r2_key").notNull(),
    multipartUploadId: text("multipart_upload_id"),
    /** SHA-256 (hex) of the Upload-Key. */
    uploadKeyHash: text("upload_key_hash").notNull(),
    declaredSha256: text("declared_sha256"),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    photoId: text("photo_id"),
    /** The client's own id for the file (optional): a new create with the same one replaces this session. */
    clientId: text("client_id"),
    /** A tus `concatenation` partial: assembled like any upload, but only ever part of a final one. */
    partial: integer("partial", { mode: "boolean" }).notNull().default(false),
    /** The name the guest gave (core/words.ts), carried to the photo. */
    displayName: text("display_name"),
    createdAt: createdAt(),
    updatedAt: epochMs("updated_at").notNull(),
    completedAt: epochMs("completed_at"),
  },
  (t) => [
    index("upload_sessions_device").on(t.eventId, t.deviceId, t.createdAt),
    index("upload_sessions_sweep").on(t.status, t.expiresAt),
    /** Closed sessions whose multipart upload may still hold parts: the sweeper aborts them. */
    index("upload_sessions_multipart_left")
      .on(t.updatedAt)
      .where(sql`${t.status} in ('failed', 'cancelled', 'expired') and ${t.multipartUploadId} is not null`),
  ],
);

/** `preview`: recorded from the guest's preview before its original arrived (core/previews.ts). */
export const photoStatuses = ["preview", "processing", "ready", "failed", "hidden", "deleted"] as const;
export const thumbnailStates = ["ready", "unavailable"] as const;
export const mediaKinds = ["image", "video"] as const;

export const photos = sqliteTable(
  "photos",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    uploadId: text("upload_id")
      .notNull()
      .references(() => uploadSessions.id),
    deviceId: text("device_id").notNull(),
    status: text("status", { enum: photoStatuses }).notNull().default("processing"),
    /** R2 key of the original as uploaded (private: organisers only). */
    originalKey: text("original_key").notNull(),
    size: integer("size").notNull(),
    filename: text("filename").notNull(),
    declaredContentType: text("declared_content_type").notNull(),
    declaredSha256: text("declared_sha256"),
    failureReason: text("failure_reason"),
    /** Set by processing: the type sniffed from the bytes and the hash of the stored original. */
    contentType: text("content_type"),
    /** The sniffed type's kind (media-types.ts); a video has its duration too. */
    mediaKind: text("media_kind", { enum: mediaKinds }).notNull().default("image"),
    durationSeconds: real("duration_s"),
    sha256: text("sha256"),
    width: integer("width"),
    height: integer("height"),
    orientation: integer("orientation"),
    takenAt: epochMs("taken_at"),
    cameraMake: text("camera_make"),
    cameraModel: text("camera_model"),
    /** Only when the event keeps GPS; never shown to guests. */
    gpsLatitude: real("gps_latitude"),
    gpsLongitude: real("gps_longitude"),
    /** The copy guests may see: personal metadata removed, pixels untouched. Null when none could be made. */
    scrubbedKey: text("scrubbed_key"),
    thumbSmallKey: text("thumb_small_key"),
    thumbLargeKey: text("thumb_large_key"),
    thumbnailState: text("thumbnail_state", { enum: thumbnailStates }),
    /** Bytes stored for the scrubbed copy and for both thumbnails, for the event's storage figures. */
    scrubbedSize: integer("scrubbed_size"),
    thumbnailsSize: integer("thumbnails_size"),
    /** When an organiser approved it (events in review mode show guests approved photos only). */
    approvedAt: epochMs("approved_at"),
    /** The earlier photo of the same event with the same bytes, whose objects this one shares. */
    duplicateOf: text("duplicate_of"),
    /** The name its guest gave (core/words.ts); organisers see and filter by it. */
    displayName: text("display_name"),
    /** The preview the guest's device sent before the original (served until thumbnails exist; core/previews.ts). */
    previewKey: text("preview_key"),
    /** dHash (16 hex digits) of the preview, compared with the original's at processing. */
    previewPhash: text("preview_phash"),
    /** The preview did not look like its original (or could not be compared): held for an organiser's review. */
    previewFlagged: integer("preview_flagged", { mode: "boolean" }).notNull().default(false),
    processingAttempts: integer("processing_attempts").notNull().default(0),
    processedAt: epochMs("processed_at"),
    createdAt: createdAt(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("photos_upload").on(t.uploadId),
    index("photos_event").on(t.eventId, t.createdAt),
    index("photos_event_sha256").on(t.eventId, t.sha256),
    index("photos_event_page").on(t.eventId, t.createdAt, t.id),
    /** The sweeper asks whether any photo still uses an original. */
    index("photos_original").on(t.originalKey),
    index("photos_event_name").on(t.eventId, t.displayName),
  ],
);

export type EventRow = typeof events.$inferSelect;
export type JoinTokenRow = typeof joinTokens.$inferSelect;
export type UploadSessionRow = typeof uploadSessions.$inferSelect;
export type PhotoRow = typeof photos.$inferSelect;
export type AdminTokenRow = typeof adminTokens.$inferSelect;

/**
 * A guest's selection of files, registered in one call so the guest app (and the organiser) can
 * follow every file through upload and processing. Each file gets upload sessions as slots free up.
 */
export const batches = sqliteTable(
  "batches",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    deviceId: text("device_id").notNull(),
    /** SHA-256 (hex) of the Batch-Key, the capability for reading the batch and adding its uploads. */
    batchKeyHash: text("batch_key_hash").notNull(),
    /** Its files with no upload yet (refused and withdrawn ones included): what the quotas on registered files sum. */
    waitingFiles: integer("waiting_files").notNull().default(0),
    /** When it was registered or a file of it last got an upload: the least recently active give way first. */
    activeAt: epochMs("active_at").notNull().default(0),
    /** The name the guest gave (core/words.ts): the batch's uploads carry it unless they give their own. */
    displayName: text("display_name"),
    createdAt: createdAt(),
  },
  (t) => [
    index("batches_event").on(t.eventId, t.createdAt),
    index("batches_device").on(t.eventId, t.deviceId),
    index("batches_created").on(t.createdAt),
    index("batches_active").on(t.eventId, t.activeAt),
  ],
);

/**
 * Why a batch file will get no upload, as its guest's app said before it had a session: its
 * bytes had arrived before from this device (`duplicate`), or its guest cancelled it.
 */
export const batchFileWithdrawals = ["duplicate", "cancelled"] as const;

export const batchFiles = sqliteTable(
  "batch_files",
  {
    id: text("id").primaryKey(),
    batchId: text("batch_id")
      .notNull()
      .references(() => batches.id),
    /** The guest app's own id for the file (unique in its batch). */
    clientId: text("client_id").notNull(),
    position: integer("position").notNull(),
    filename: text("filename").notNull(),
    size: integer("size").notNull(),
    contentType: text("content_type").notNull(),
    /** Why the file was refused at registration (too large, wrong type); it gets no upload. */
    refusalCode: text("refusal_code"),
    refusalMessage: text("refusal_message"),
    /** The file's latest upload session (a new one replaces an expired one). */
    uploadId: text("upload_id"),
    /** Withdrawn before it had a session: it takes none from then on (core/batches.ts). */
    withdrawn: text("withdrawn", { enum: batchFileWithdrawals }),
  },
  (t) => [uniqueIndex("batch_files_client").on(t.batchId, t.clientId)],
);

export type BatchRow = typeof batches.$inferSelect;
export type BatchFileRow = typeof batchFiles.$inferSelect;

/** Where each of the sweeper's walks through an R2 prefix stopped, so the next run carries on from there. */
export const sweeperState = sqliteTable("sweeper_state", {
  /** The walk, e.g. the prefix it lists. */
  name: text("name").primaryKey(),
  /** The last key the walk dealt with; null to start from the beginning. */
  lastKey: text("last_key"),
  updatedAt: epochMs("updated_at").notNull(),
});

export const webhookEventTypes = ["photo.ready", "photo.failed", "photo.moderated", "message.created", "event.closed"] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];
/** What a delivery carries: a subscribed event type, or the "send test" button's message. */
export type WebhookMessageType = WebhookEventType | "webhook.test";

/** Organisers' HTTPS endpoints (one event's, or global: every event's), signed per Standard Webhooks. */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    /** The event whose messages it gets; null for a global endpoint (every event's). */
    eventId: text("event_id").references(() => events.id),
    url: text("url").notNull(),
    description: text("description"),
    /** JSON array of the subscribed event types. */
    eventTypes: text("event_types", { mode: "json" }).$type<WebhookEventType[]>().notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    /** `whsec_…`: the HMAC key deliveries are signed with; shown once (at creation and rotation). */
    secret: text("secret").notNull(),
    /** The secret before the last rotation: deliveries carry its signature too until `previousSecretUntil`. */
    previousSecret: text("previous_secret"),
    previousSecretUntil: epochMs("previous_secret_until"),
    createdAt: createdAt(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [index("webhook_endpoints_event").on(t.eventId)],
);

export const webhookDeliveryStatuses = ["pending", "succeeded", "failed"] as const;

/** One message for one endpoint, from emission until it is delivered or given up. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    /** Emission order: a photo's later delivery waits for its earlier ones (same endpoint). */
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    /** The `webhook-id` receivers see, the same on every attempt (their idempotency key). */
    id: text("id").notNull(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id),
    eventId: text("event_id"),
    photoId: text("photo_id"),
    type: text("type").$type<WebhookMessageType>().notNull(),
    /** The JSON body, fixed at emission so every attempt sends the same bytes. */
    payload: text("payload").notNull(),
    status: text("status", { enum: webhookDeliveryStatuses }).notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    /** While an attempt is running: another consumer leaves the delivery alone until then. */
    leaseUntil: epochMs("lease_until"),
    nextAttemptAt: epochMs("next_attempt_at"),
    createdAt: createdAt(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_id").on(t.id),
    index("webhook_deliveries_endpoint").on(t.endpointId, t.seq),
    index("webhook_deliveries_photo").on(t.endpointId, t.photoId, t.seq).where(sql`${t.status} = 'pending'`),
    index("webhook_deliveries_sweep").on(t.status, t.updatedAt),
  ],
);

/** The delivery log: one row per attempt. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    attempt: integer("attempt").notNull(),
    /** The receiver's HTTP status; null when none came (timeout, connection refused). */
    statusCode: integer("status_code"),
    durationMs: integer("duration_ms").notNull(),
    /** Why it failed, in our words (never the receiver's response body). */
    error: text("error"),
    createdAt: createdAt(),
  },
  (t) => [index("webhook_attempts_delivery").on(t.deliveryId, t.attempt)],
);

export type WebhookEndpointRow = typeof webhookEndpoints.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;

export const messageStatuses = ["visible", "hidden"] as const;

/** Guestbook messages (core/guestbook.ts): bounded per device and per event. */
export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    joinTokenId: text("join_token_id")
      .notNull()
      .references(() => joinTokens.id),
    deviceId: text("device_id").notNull(),
    displayName: text("display_name"),
    /** Normalised text (core/words.ts), at most 1,000 characters. */
    body: text("body").notNull(),
    status: text("status", { enum: messageStatuses }).notNull().default("visible"),
    /** When it was approved: at once in `auto` events, by an organiser in `review` ones. */
    approvedAt: epochMs("approved_at"),
    createdAt: createdAt(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [index("messages_event_page").on(t.eventId, t.createdAt, t.id), index("messages_device").on(t.eventId, t.deviceId)],
);

export type MessageRow = typeof messages.$inferSelect;

/**
 * "My uploads on any phone": a short code (stored as an HMAC, shown once) that lets another device
 * see and take back what one device uploaded to the event. Revocable by the organiser.
 */
export const claims = sqliteTable(
  "claims",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id),
    /** The device whose uploads the claim opens. */
    deviceId: text("device_id").notNull(),
    /** HMAC-SHA-256 (hex, keyed by SIGNING_SECRET) of the event and the normalised code. */
    codeHash: text("code_hash").notNull(),
    lastUsedAt: epochMs("last_used_at"),
    revokedAt: epochMs("revoked_at"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("claims_code").on(t.eventId, t.codeHash), index("claims_device").on(t.eventId, t.deviceId)],
);

/** Wrong claim codes presented, per event and address, for the limits on guessing (rows older than the window are deleted). */
export const claimGuesses = sqliteTable(
  "claim_guesses",
  {
    id: text("id").primaryKey(),
    eventId: text("event_id").notNull(),
    /** SHA-256 (hex) of the client's IP address. */
    addressHash: text("address_hash").notNull(),
    at: epochMs("at").notNull(),
  },
  (t) => [index("claim_guesses_event").on(t.eventId, t.at), index("claim_guesses_address").on(t.addressHash, t.at)],
);

export type ClaimRow = typeof claims.$inferSelect;
