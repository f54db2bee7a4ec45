/**
 * Where the engine keeps what must survive a reload, a restart or a crash: which files were
 * picked (and the bytes, or a way back to them), their batch and session capabilities, and how
 * each one ended. Byte offsets are not kept: the server's offset is the truth, asked on resume.
 */
import type { BatchFileRef, ErrorInfo } from "./api.ts";

/**
 * `queued` is everything still to do on this side (hash, session, bytes, complete);
 * `processing` means the server has every byte and is making the photo.
 */
export type StoredState = "queued" | "processing" | "done" | "refused" | "failed" | "cancelled";

export interface StoredFile {
  /** Also the file's `client_id` in its batch. */
  id: string;
  name: string;
  size: number;
  /** The content type declared to the server. */
  type: string;
  lastModified: number;
  /** Order of adding, for a stable upload order across restarts. */
  addedAt: number;
  /** The bytes; null when the store could not get them back (the file moved or changed). */
  file: File | null;
  /** Hex SHA-256; null when it cannot be computed here, undefined until it is. */
  sha256?: string | null;
  batch?: BatchFileRef;
  session?: { uploadId: string; uploadKey: string; chunkSize: number };
  /** With previews on: whether the file's preview went ahead of its original, or none could; undefined until tried. */
  preview?: "sent" | "none";
  state: StoredState;
  /** Why the file was refused or failed. */
  error?: ErrorInfo;
  photoId?: string;
  /** The file with the same bytes that already arrived, when this one was skipped for it. */
  duplicateOf?: string;
}

export interface StoredSession {
  /** The id this device presents to the server (per-device limits), once chosen. */
  deviceId: string | null;
  files: StoredFile[];
}

export interface SessionStore {
  load(): Promise<StoredSession>;
  /** The file as last saved (possibly by another tab sharing the store). */
  getFile(id: string): Promise<StoredFile | undefined>;
  /** Saves of the same file land in the order they were made, even while an earlier one is still being written. */
  putFile(file: StoredFile): Promise<void>;
  deleteFile(id: string): Promise<void>;
  putDeviceId(deviceId: string): Promise<void>;
}

/** Keeps everything in this process: enough for tests, and for a page that need not survive a reload. */
export class MemoryStore implements SessionStore {
  private deviceId: string | null = null;
  private readonly files = new Map<string, StoredFile>();

  async load(): Promise<StoredSession> {
    return { deviceId: this.deviceId, files: [...this.files.values()].map((file) => ({ ...file })) };
  }

  async getFile(id: string): Promise<StoredFile | undefined> {
    const file = this.files.get(id);
    return file && { ...file };
  }

  async putFile(file: StoredFile): Promise<void> {
    this.files.set(file.id, { ...file });
  }

  async deleteFile(id: string): Promise<void> {
    this.files.delete(id);
  }

  async putDeviceId(deviceId: string): Promise<void> {
    this.deviceId = deviceId;
  }
}
