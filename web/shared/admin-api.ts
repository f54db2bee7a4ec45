/**
 * A typed client for the admin API (/api/v1/admin, src/http/admin.ts). The shapes are generated
 * from the API's OpenAPI document (api-types.ts, `npm run api:types`). Authentication is either a bearer token (local runs,
 * scoped tokens) or, with no token, whatever the browser carries for the API's origin: behind
 * Cloudflare Access that is the Access session cookie.
 */
import type { components, paths } from "./api-types.ts";

type Schemas = components["schemas"];
/** The JSON a 200 answer of `path`'s `method` carries. */
type Answer<P extends keyof paths, M extends "get" | "post"> = paths[P][M] extends { responses: { 200: { content: { "application/json": infer T } } } } ? T : never;

export type EventStatus = Schemas["EventView"]["status"];
export type PhotoStatus = Schemas["PhotoView"]["status"];
export type UploadStatus = Schemas["UploadView"]["status"];
export type ContentType = NonNullable<Schemas["UpdateEventBody"]["allowed_content_types"]>[number];
export type ModerationAction = Schemas["BulkModerationBody"]["action"];

export const contentTypes: readonly ContentType[] = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
export const activeUploadStatuses: readonly UploadStatus[] = ["pending", "uploading", "assembling"];

export type EventView = Schemas["EventView"];
/** What PATCH /events/:id accepts (and POST /events, with `name` required). */
export type EventSettings = Schemas["UpdateEventBody"];
export type JoinLinkView = Schemas["JoinLinkView"];
/** A guest's code for opening their uploads on another phone, as organisers see it (never the code). */
export type ClaimView = Schemas["ClaimView"];
/** A join link as it is created: the only time its token, URL and QR code are shown. */
export type CreatedJoinLink = Schemas["CreatedJoinLink"];
export type CreatedEvent = Schemas["CreatedEvent"];
/** Signed, absolute, short-lived (about an hour) URLs of a photo's files; null where a file does not exist. */
export type PhotoUrls = Schemas["PhotoUrls"];
export type PhotoView = Schemas["PhotoView"];
export type UploadView = Schemas["UploadView"];
export type EventStats = Schemas["EventStats"];
export type MessageView = Schemas["MessageView"];
export type MessageAction = "approve" | "hide" | "unhide";
export type GuestName = Answer<"/api/v1/admin/events/{eventId}/names", "get">["names"][number];
/** Uploads started per time bucket, oldest first; buckets without uploads are left out. */
export type UploadTimeline = EventStats["uploads_over_time"];

type PhotoQuery = NonNullable<paths["/api/v1/admin/events/{eventId}/photos"]["get"]["parameters"]["query"]>;
/** The photo list's filters; the API takes `status` comma-separated and `approved` as text. */
export type PhotoFilters = Omit<PhotoQuery, "status" | "approved" | "limit" | "cursor"> & { status?: PhotoStatus[]; approved?: boolean };

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type BulkResult = Answer<"/api/v1/admin/events/{eventId}/photos/bulk", "post">["results"][number];

export type WebhookView = Schemas["WebhookView"];
/** An endpoint as it is created or its secret rotated: the only time its signing secret is shown. */
export type CreatedWebhook = Schemas["CreatedWebhook"];
export type WebhookEventType = WebhookView["event_types"][number];
export type WebhookDelivery = Schemas["WebhookDeliveryView"];
export type WebhookFields = Schemas["UpdateWebhookBody"];
export const webhookEventTypes: readonly WebhookEventType[] = ["photo.ready", "photo.failed", "photo.moderated", "message.created", "event.closed"];

/** A short-lived URL: the event's ZIP download, or the live channel's WebSocket. */
export type SignedUrl = Schemas["SignedUrl"];

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

  async listClaims(eventId: string): Promise<ClaimView[]> {
    return (await this.request<{ claims: ClaimView[] }>("GET", `/events/${eventId}/claims`)).claims;
  }

  revokeClaim(eventId: string, claimId: string): Promise<ClaimView> {
    return this.request("DELETE", `/events/${eventId}/claims/${claimId}`);
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

  /** A signed URL (valid minutes) that downloads the event's approved photos as one streamed ZIP, optionally in a folder per guest's name. */
  zipDownload(eventId: string, folders: "none" | "names" = "none"): Promise<Schemas["ZipDownload"]> {
    return this.request("POST", `/events/${eventId}/download${query({ folders: folders === "none" ? undefined : folders })}`);
  }

  /** The names guests gave with their photos (null: no name), with a count each. */
  async listNames(eventId: string): Promise<GuestName[]> {
    return (await this.request<{ names: GuestName[] }>("GET", `/events/${eventId}/names`)).names;
  }

  async listMessages(eventId: string, filters: { status?: MessageView["status"]; approved?: boolean }, cursor: string | null, limit = 50): Promise<Page<MessageView>> {
    const page = await this.request<{ messages: MessageView[]; next_cursor: string | null }>(
      "GET",
      `/events/${eventId}/messages${query({ ...filters, limit, cursor: cursor ?? undefined })}`,
    );
    return { items: page.messages, next_cursor: page.next_cursor };
  }

  moderateMessage(eventId: string, messageId: string, action: MessageAction): Promise<MessageView> {
    return this.request("POST", `/events/${eventId}/messages/${messageId}/${action}`);
  }

  /** The guestbook as CSV text (the API makes formula-like cells inert). */
  async messagesCsv(eventId: string): Promise<Blob> {
    const headers: Record<string, string> = this.token ? { authorization: `Bearer ${this.token}` } : {};
    let response: Response;
    try {
      response = await fetch(`${this.origin}/api/v1/admin/events/${eventId}/messages.csv`, { headers, credentials: this.token ? "same-origin" : "include" });
    } catch {
      throw new AdminApiError(0, "network_error", "The server could not be reached. Check the connection and try again.");
    }
    if (!response.ok) throw new AdminApiError(response.status, "http_error", `The server answered ${response.status}.`);
    return response.blob();
  }

  /** Webhook endpoints: one event's, or (eventId null) the global ones, every event's. */
  async listWebhooks(eventId: string | null): Promise<WebhookView[]> {
    return (await this.request<{ webhooks: WebhookView[] }>("GET", webhooksPath(eventId))).webhooks;
  }

  createWebhook(eventId: string | null, fields: WebhookFields & Pick<Required<WebhookFields>, "url" | "event_types">): Promise<CreatedWebhook> {
    return this.request("POST", webhooksPath(eventId), fields);
  }

  updateWebhook(eventId: string | null, webhookId: string, changes: WebhookFields): Promise<WebhookView> {
    return this.request("PATCH", `${webhooksPath(eventId)}/${webhookId}`, changes);
  }

  deleteWebhook(eventId: string | null, webhookId: string): Promise<WebhookView> {
    return this.request("DELETE", `${webhooksPath(eventId)}/${webhookId}`);
  }

  rotateWebhookSecret(eventId: string | null, webhookId: string): Promise<CreatedWebhook> {
    return this.request("POST", `${webhooksPath(eventId)}/${webhookId}/rotate-secret`);
  }

  /** Queues a signed `webhook.test` delivery; its attempts show in the delivery log. */
  testWebhook(eventId: string | null, webhookId: string): Promise<WebhookDelivery> {
    return this.request("POST", `${webhooksPath(eventId)}/${webhookId}/test`);
  }

  async listWebhookDeliveries(eventId: string | null, webhookId: string, cursor: string | null, limit = 20): Promise<Page<WebhookDelivery>> {
    const page = await this.request<{ deliveries: WebhookDelivery[]; next_cursor: string | null }>(
      "GET",
      `${webhooksPath(eventId)}/${webhookId}/deliveries${query({ limit, cursor: cursor ?? undefined })}`,
    );
    return { items: page.deliveries, next_cursor: page.next_cursor };
  }

  /** A short-lived ws(s):// URL for the event's live channel. */
  liveTicket(eventId: string): Promise<SignedUrl> {
    return this.request("POST", `/events/${eventId}/live`);
  }
}

const webhooksPath = (eventId: string | null) => (eventId === null ? "/webhooks" : `/events/${eventId}/webhooks`);

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
