/**
 * One file's way to the server: digest, session, chunks from the server's offset, complete.
 * Every failure goes through the decision table in failures.ts; a run ends when the file
 * leaves the queue (processing, or a final state) or when it is stopped (cancel, engine stop),
 * in which case what it saved lets the next run resume.
 */
import { ApiFailure, type ErrorInfo, type GuestApi, type PhotoReceipt, type UploadStatus, type WithdrawReason } from "./api.ts";
import { retryDelay } from "./backoff.ts";
import { nextChunk, type ByteRange, type ChunkSizer } from "./chunks.ts";
import { isAbort, linkSignals, type Trigger } from "./control.ts";
import { classify } from "./failures.ts";
import { sha256Hex } from "./files.ts";
import { Retries, type RetryTools } from "./retry.ts";
import type { StoredFile } from "./store.ts";

/** What a run is doing right now, for the UI; never stored. */
export type Activity =
  | { kind: "hashing" }
  | { kind: "uploading"; sentBytes: number }
  /** For a device slot: the event's limit on uploads in flight per device is reached. */
  | { kind: "waiting_for_slot" }
  | { kind: "retrying"; sentBytes: number; nextAttemptAt: number; error: ErrorInfo };

/** What a run gets from the engine. */
export interface FileRunHost {
  api: GuestApi;
  deviceId: string;
  /** The guest's name as it is now (undefined: none). */
  displayName(): string | undefined;
  tools: RetryTools;
  /** Fires when a session of this engine ends, so a device slot may be free. */
  slotFreed: Trigger;
  /** Files over this size are not hashed (see files.ts). */
  hashLimitBytes: number;
  /** How large the next chunk is; told how each chunk went. */
  chunks: ChunkSizer;
  /** Aborts when the file is cancelled or the engine stops: the run ends. */
  signal: AbortSignal;
  /** Aborts only when the file is cancelled. */
  cancelled: AbortSignal;
  /** The file as it is now. */
  current(): StoredFile;
  /** Applies a change to the file and persists it. */
  save(change: Partial<StoredFile>): Promise<void>;
  show(activity: Activity): void;
  /** A file with these bytes that already arrived, if any. */
  arrivedWithSameBytes(sha256: string): StoredFile | undefined;
  /** Tells the server, in the background, that the file's batch entry will get no session (see UploadEngine). */
  withdraw(reason: WithdrawReason): void;
}

type Next = "again" | "finished";

export class FileUpload {
  private readonly host: FileRunHost;
  private readonly retries: Retries;
  /** The server's offset when known; null means ask before sending anything. */
  private offset: number | null;
  /** The last offset the server confirmed, for progress while `offset` is unknown. */
  private confirmed = 0;
  /** The chunk on the wire, so a 409 can tell "someone else's turn" from "you are behind". */
  private sending: ByteRange | null = null;
  private slotWaits = 0;

  constructor(host: FileRunHost) {
    this.host = host;
    this.retries = new Retries(host.tools);
    this.offset = host.current().session ? null : 0;
  }

  async run(): Promise<void> {
    if (!(await this.prepare())) return;
    const { gate } = this.host.tools;
    for (;;) {
      const closed = await gate.pass(this.host.signal);
      if (this.host.signal.aborted) return;
      const attempt = linkSignals([this.host.signal, closed]);
      try {
        await this.attempt(attempt.signal);
        return;
      } catch (error) {
        if (isAbort(error)) {
          // Paused mid-request: the server may or may not have taken that chunk.
          if (this.current.session) this.offset = null;
          continue;
        }
        if (!(error instanceof ApiFailure)) throw error;
        if ((await this.recover(error)) === "finished") return;
      } finally {
        attempt.unlink();
        this.sending = null;
      }
    }
  }

  private get current(): StoredFile {
    return this.host.current();
  }

  /** Reads the digest once; false when the file needs no upload (unreadable, or already arrived). */
  private async prepare(): Promise<boolean> {
    const { file, session } = this.current;
    if (!file) {
      await this.finish("failed", { code: "file_unavailable", message: "The file can no longer be read where it was picked." });
      // Left open, its session would hold one of the device's upload slots until it expires.
      if (session) await this.host.api.abort(session, this.host.signal).catch(() => {});
      return false;
    }
    if (this.current.sha256 === undefined) {
      this.host.show({ kind: "hashing" });
      try {
        await this.host.save({ sha256: await sha256Hex(file, this.host.hashLimitBytes) });
      } catch (error) {
        await this.finish("failed", unreadable(error));
        return false;
      }
    }
    const sha256 = this.current.sha256;
    const earlier = sha256 ? this.host.arrivedWithSameBytes(sha256) : undefined;
    if (earlier) {
      await this.host.save({ state: "done", duplicateOf: earlier.id, photoId: earlier.photoId });
      this.host.withdraw("duplicate");
      return false;
    }
    return true;
  }

  /** Session, bytes from the server's offset, complete: as far as it gets before a failure. */
  private async attempt(signal: AbortSignal): Promise<void> {
    const file = this.current.file!;
    let session = this.current.session;
    if (!session) {
      // A file waiting for a device slot keeps showing so until it has one.
      if (this.slotWaits === 0) this.host.show({ kind: "uploading", sentBytes: 0 });
      // Not abandoned for a pause or a stop: cut off midway, a create may open a session this
      // device never hears of, which holds one of its upload slots until it expires.
      session = await this.createSession(this.host.cancelled);
      this.offset = 0;
      signal.throwIfAborted();
    }
    if (this.offset === null) this.offset = await this.serverOffset(signal);
    const { chunks, tools } = this.host;
    for (;;) {
      const range = nextChunk(this.offset, file.size, chunks.size(session.chunkSize), session.chunkSize);
      if (!range) break;
      this.confirm(this.offset);
      this.sending = range;
      const started = tools.clock.now();
      const { offset, receipt } = await this.host.api.putChunk(session, file, range, signal);
      this.sending = null;
      this.retries.reset();
      // The last chunk's time includes the server's completion: it says nothing of the link.
      if (receipt) return this.completed(receipt);
      chunks.succeeded(tools.clock.now() - started, session.chunkSize);
      this.offset = offset;
    }
    // Every byte is in but the upload is not complete yet (an answer was lost, or an older server).
    this.confirm(file.size);
    await this.completed(await this.host.api.complete(session, signal));
  }

  private async completed(receipt: PhotoReceipt): Promise<void> {
    this.confirm(this.current.file!.size);
    await this.host.save({ state: "processing", photoId: receipt.photo_id });
  }

  private confirm(offset: number): void {
    this.confirmed = offset;
    this.host.show({ kind: "uploading", sentBytes: offset });
  }

  private async createSession(signal: AbortSignal): Promise<NonNullable<StoredFile["session"]>> {
    const session = await openSession(this.host, signal);
    this.slotWaits = 0;
    return session;
  }

  /**
   * The server's offset. A session that ended answers as a chunk would have been answered, so
   * its outcome goes through the same decision table.
   */
  private async serverOffset(signal: AbortSignal): Promise<number> {
    const status = await this.host.api.uploadStatus(this.current.session!, signal);
    const ended = endedSession(status);
    if (ended) throw ended;
    return status.status === "completed" || status.status === "assembling" ? status.total_size : status.received_bytes;
  }

  private async recover(failure: ApiFailure): Promise<Next> {
    const disposition = classify(failure, this.sending?.start ?? null);
    switch (disposition.kind) {
      case "retry": {
        // A body that cannot be read fails like a dropped connection: the card was pulled out,
        // the file edited. Retrying would never help.
        const readError = failure.status === 0 ? await readFailure(this.current.file!) : null;
        if (readError) return this.finish("failed", unreadable(readError));
        // A chunk lost on the way: smaller ones lose less on this link (chunks.ts). One whose
        // answer gives its end as the offset arrived: the completion it carried failed, not the link.
        const arrived = this.sending !== null && failure.uploadOffset === this.sending.end;
        if (this.sending && !arrived && this.current.session) this.host.chunks.failed(this.current.session.chunkSize);
        // A dropped connection leaves it open whether the chunk landed: ask before sending again.
        if (this.current.session) this.offset = null;
        const at = this.retries.schedule(disposition.retryAfterMs);
        if (at === null) return this.finish("failed", failure.info);
        this.host.show({ kind: "retrying", sentBytes: this.confirmed, nextAttemptAt: at, error: failure.info });
        await this.retries.sleepUntil(at, this.host.signal);
        return "again";
      }
      case "resync":
        this.offset = disposition.offset;
        return "again";
      case "wait_for_slot": {
        const { clock, random, policy } = this.host.tools;
        this.host.show({ kind: "waiting_for_slot" });
        // Our own sessions free slots with a signal; slots held elsewhere are polled with backoff.
        const wake = linkSignals([this.host.signal, this.host.slotFreed.signal]);
        await clock.sleep(retryDelay(policy, this.slotWaits++, random, null), wake.signal);
        wake.unlink();
        return "again";
      }
      case "new_session":
        this.offset = 0;
        await this.host.save({ session: undefined });
        return "again";
      case "register_again":
        // Still queued, without a batch entry: the engine registers it again, then uploads it.
        await this.host.save({ batch: undefined, session: undefined });
        return "finished";
      case "complete":
        this.offset = this.current.size;
        return "again";
      case "refused":
        return this.finish("refused", failure.info);
      case "cancelled":
        return this.finish("cancelled", failure.info);
      case "failed":
        // A session the server failed is of no more use: a retry of the file starts a new one.
        if (failure.code === "upload_failed") await this.host.save({ session: undefined });
        return this.finish("failed", failure.info);
    }
  }

  private async finish(state: "refused" | "failed" | "cancelled", error: ErrorInfo): Promise<Next> {
    await this.host.save({ state, error });
    return "finished";
  }
}

function unreadable(error: unknown): ErrorInfo {
  return { code: "file_unreadable", message: `The file can no longer be read (${String(error)}).` };
}

/** Why the file cannot be read, or null when it can. */
async function readFailure(file: Blob): Promise<unknown> {
  try {
    await file.slice(0, 1).arrayBuffer();
    return null;
  } catch (error) {
    return error;
  }
}

/** A status that says the session cannot take more bytes, as the failure a chunk would get. */
function endedSession(status: UploadStatus): ApiFailure | null {
  switch (status.status) {
    case "expired":
      return new ApiFailure(410, { code: "session_expired", message: "The upload session expired." });
    case "cancelled":
      return new ApiFailure(410, { code: "upload_cancelled", message: "This upload was cancelled." });
    case "failed":
      return new ApiFailure(409, { code: "upload_failed", message: "The server could not assemble this upload." });
    default:
      return null;
  }
}

/** Opens the file's upload session on the server and saves it. */
export async function openSession(host: FileRunHost, signal: AbortSignal): Promise<NonNullable<StoredFile["session"]>> {
  const record = host.current();
  const created = await host.api.createUpload(
    {
      filename: record.name,
      size: record.size,
      content_type: record.type,
      device_id: host.deviceId,
      ...(host.displayName() ? { display_name: host.displayName() } : {}),
      ...(record.sha256 ? { sha256: record.sha256 } : {}),
      ...(record.batch ? { batch_id: record.batch.batchId, batch_file_id: record.batch.fileId } : {}),
    },
    record.batch?.batchKey ?? null,
    signal,
  );
  const session = { uploadId: created.upload_id, uploadKey: created.upload_key, chunkSize: created.chunk_size };
  await host.save({ session });
  return session;
}
