/**
 * A typed client for the admin API (/api/v1/admin, src/http/admin.ts). The shapes mirror the
 * Worker's views (src/admin/views.ts). Authentication is either a bearer token (local runs,
 * scoped tokens) or, with no token, whatever the browser carries for the API's origin: behind
 * Cloudflare Access that is the Access session cookie.
 */

export type EventStatus = "open" | "closed" | "archived";
export type PhotoStatus = "processing" | "ready" | "failed" | "hidden" | "deleted";
export type UploadStatus = "pending" | "uploading" | "assembling" | "completed" | "failed" | "cancelled" | "expired";
export type ContentType = "image/jpeg" | "image/png" | "image/webp" | "image/heic" | "image/heif";
export type ModerationAction = "approve" | "hide" | "unhide" | "delete";

export const contentTypes: readonly ContentType[] = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
export const activeUploadStatuses: readonly UploadStatus[] = ["pending", "uploading", "assembling"];

export interface EventView {
  event_id: string;
  name: string;
  status: EventStatus;
  max_file_size: number;
  chunk_size: number;
  session_ttl_seconds: number;
  max_concurrent_uploads_per_device: number;
  daily_upload_cap_per_device: number;
  allowed_content_types: ContentType[];
  keep_gps: boolean;
  starts_at: string | null;
  ends_at: string | null;
  uploads_open_at: string | null;
  uploads_close_at: string | null;
  moderation_mode: "auto" | "review";
  gallery_enabled: boolean;
  created_at: string;
  updated_at: string;
}

/** What PATCH /events/:id accepts (and POST /events, with `name` required). */
export type EventSettings = Partial<Omit<EventView, "event_id" | "status" | "created_at" | "updated_at"> & { status: "open" | "closed" }>;

export interface JoinLinkView {
  id: string;
  label: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

/** A join link as it is created: the only time its token, URL and QR code are shown. */
export interface CreatedJoinLink extends JoinLinkView {
  join_token: string;
  join_url: string;
  qr_svg: string;
}

export interface CreatedEvent extends EventView {
  join_link: CreatedJoinLink;
}

/** Signed, absolute, short-lived (about an hour) URLs of a photo's files; null where a file does not exist. */
export interface PhotoUrls {
  thumb_256: string | null;
  thumb_1024: string | null;
  scrubbed: string | null;
  original: string | null;
}

export interface PhotoView {
  photo_id: string;
  status: PhotoStatus;
  approved: boolean;
  filename: string;
  /** The name to save the original under: the guest's stem, the sniffed type's extension. */
  download_name: string;
  content_type: string;
  size: number;
  width: number | null;
  height: number | null;
  taken_at: string | null;
  camera: string | null;
  gps: { latitude: number; longitude: number } | null;
  device_id: string;
  uploaded_at: string;
  thumbnail_state: string | null;
  duplicate_of: string | null;
  failure_reason: string | null;
  urls: PhotoUrls;
}

export interface UploadView {
  upload_id: string;
  status: UploadStatus;
  device_id: string;
  filename: string;
  content_type: string;
  received_bytes: number;
  total_size: number;
  failure_reason: string | null;
  photo_id: string | null;
  created_at: string | null;
  updated_at: string | null;
  expires_at: string | null;
}

/** Uploads started per time bucket, oldest first; buckets without uploads are left out. */
export interface UploadTimeline {
  bucket_seconds: number;
  buckets: { start: string; uploads: number; bytes: number }[];
}

export interface EventStats {
  photos: { total: number; ready: number; processing: number; failed: number; hidden: number; bytes: number };
  uploads: { in_flight: number; completed: number; failed: number; expired: number; cancelled: number };
  devices: number;
  /** What the event holds in R2, each object once. */
  stored_bytes: { originals: number; scrubbed_copies: number; thumbnails: number; in_flight: number; total: number };
  upload_failure_rate: number;
  processing_failure_rate: number;
  uploads_over_time: UploadTimeline;
}

export interface PhotoFilters {
  status?: PhotoStatus[];
  approved?: boolean;
  device_id?: string;
  taken_from?: string;
  taken_to?: string;
  uploaded_from?: string;
  uploaded_to?: string;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface BulkResult {
  photo_id: string;
  ok: boolean;
  photo?: PhotoView;
  error?: { code: string; message: string };
}

/** A short-lived URL: the event's ZIP download, or the live channel's WebSocket. */
export interface SignedUrl {
  url: string;
  expires_at: string;
}

/** An error the API answered with ({error: {code, message, …}}), or a network failure (status 0). */
export class AdminApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** zod's complaints for invalid_request: which field, and what is wrong with it. */
  /** What the server refused, one "field: problem" each (invalid_request). */
  readonly issues: string[];

  constructor(status: number, code: string, message: string, issues: AdminApiError["issues"] = []) {
    super(message);
    this.name = "AdminApiError";
    this.status = status;
    this.code = code;
    this.issues = issues;
  }
}

/** Builds a query string from the defined values (arrays comma-separated). */
function query(params: Record<string, string | number | boolean | string[] | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    search.set(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export class AdminApi {
  /** The API's origin; "" is this page's own. */
  readonly origin: string;
  /** A bearer token, or null to rely on Cloudflare Access. */
  readonly token: string | null;
  private readonly onUnauthorized: () => void;

  /** `onUnauthorized` runs when a call is refused with 401: the token was revoked, or the Access session ended. */
  constructor(origin: string, token: string | null, onUnauthorized: () => void = () => {}) {
    this.origin = origin;
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.origin}/api/v1/admin${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // Without a token, the Access session cookie must go along, also to another origin.
        credentials: this.token ? "same-origin" : "include",
      });
    } catch {
      throw new AdminApiError(0, "network_error", "The server could not be reached. Check the connection and try again.");
    }
    const text = await response.text();
    const parsed = text ? safeJson(text) : null;
    if (!response.ok) {
      if (response.status === 401) this.onUnauthorized();
      const error = (parsed as { error?: { code?: string; message?: string; issues?: AdminApiError["issues"] } } | null)?.error;
      throw new AdminApiError(response.status, error?.code ?? "http_error", error?.message ?? `The server answered ${response.status}.`, error?.issues);
    }
    return parsed as T;
  }

  async listEvents(includeArchived = false): Promise<EventView[]> {
    return (await this.request<{ events: EventView[] }>("GET", `/events${query({ include_archived: includeArchived || undefined })}`)).events;
  }

  createEvent(settings: EventSettings & { name: string }): Promise<CreatedEvent> {
    return this.request("POST", "/events", settings);
  }

  getEvent(eventId: string): Promise<EventView> {
    return this.request("GET", `/events/${eventId}`);
  }

  updateEvent(eventId: string, changes: EventSettings): Promise<EventView> {
    return this.request("PATCH", `/events/${eventId}`, changes);
  }

  /** Archives the event for good: no uploads, no reopening. */
  archiveEvent(eventId: string): Promise<EventView> {
    return this.request("POST", `/events/${eventId}/archive`);
  }

  async listJoinLinks(eventId: string): Promise<JoinLinkView[]> {
    return (await this.request<{ join_links: JoinLinkView[] }>("GET", `/events/${eventId}/join-links`)).join_links;
  }

  createJoinLink(eventId: string, options: { label?: string; expires_at?: string }): Promise<CreatedJoinLink> {
    return this.request("POST", `/events/${eventId}/join-links`, options);
  }

  revokeJoinLink(eventId: string, linkId: string): Promise<JoinLinkView> {
    return this.request("DELETE", `/events/${eventId}/join-links/${linkId}`);
  }

  async listPhotos(eventId: string, filters: PhotoFilters, cursor: string | null, limit = 60): Promise<Page<PhotoView>> {
    const page = await this.request<{ photos: PhotoView[]; next_cursor: string | null }>(
      "GET",
      `/events/${eventId}/photos${query({ ...filters, limit, cursor: cursor ?? undefined })}`,
    );
    return { items: page.photos, next_cursor: page.next_cursor };
  }

  /**
   * Moderates any number of photos, one photo included, 100 a call (the API's cap); each photo
   * gets its own outcome, so one refusal does not hide the others' success.
   */
  async moderateMany(eventId: string, photoIds: string[], action: ModerationAction): Promise<BulkResult[]> {
    const results: BulkResult[] = [];
    for (let start = 0; start < photoIds.length; start += 100) {
      const batch = photoIds.slice(start, start + 100);
      results.push(...(await this.request<{ results: BulkResult[] }>("POST", `/events/${eventId}/photos/bulk`, { action, photo_ids: batch })).results);
    }
    return results;
  }

  async listUploads(eventId: string, statuses: UploadStatus[], cursor: string | null, limit = 50): Promise<Page<UploadView>> {
    const page = await this.request<{ uploads: UploadView[]; next_cursor: string | null }>(
      "GET",
      `/events/${eventId}/uploads${query({ status: statuses, limit, cursor: cursor ?? undefined })}`,
    );
    return { items: page.uploads, next_cursor: page.next_cursor };
  }

  stats(eventId: string): Promise<EventStats> {
    return this.request("GET", `/events/${eventId}/stats`);
  }

  /** A signed URL (valid minutes) that downloads the event's approved photos as one streamed ZIP. */
  zipDownload(eventId: string): Promise<SignedUrl & { photo_count: number; bytes: number }> {
    return this.request("POST", `/events/${eventId}/download`);
  }

  /** A short-lived ws(s):// URL for the event's live channel. */
  liveTicket(eventId: string): Promise<SignedUrl> {
    return this.request("POST", `/events/${eventId}/live`);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
