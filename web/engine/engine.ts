/**
 * The upload engine: files in, photos out. It registers selections as batches, runs a bounded
 * number of file uploads (file-upload.ts) in the order files were added, follows processing
 * through the batch snapshots, and tells listeners what every file is doing. It holds no
 * framework and no platform API beyond fetch, Blob and AbortController: the guest app, the CLI
 * and the load tests drive it alike, with their own store, lock and clock.
 */
import { ApiFailure, GuestApi, type ErrorInfo, type SessionRef, type WithdrawReason } from "./api.ts";
import { defaultRetryPolicy, type RetryPolicy } from "./backoff.ts";
import { BATCH_LIMIT, batchFileRequest, processingChanges, registrationChanges } from "./batches.ts";
import { systemClock, type Clock } from "./clock.ts";
import { ChunkSizer, type ChunkPolicy } from "./chunks.ts";
import { Gate, isAbort, linkSignals, Trigger } from "./control.ts";
import { classify } from "./failures.ts";
import { FileUpload, type Activity, type FileRunHost } from "./file-upload.ts";
import { sendPreviewFirst } from "./preview-first.ts";
import { PreviewPipeline, type PreviewMaker } from "./preview-pipeline.ts";
import { contentTypeOf, fingerprintOf, randomId } from "./files.ts";
import { withRetries, type RetryTools } from "./retry.ts";
import { MemoryStore, type SessionStore, type StoredFile } from "./store.ts";
import { fileView, totalsOf, type EngineSnapshot, type FileView } from "./views.ts";

/**
 * Runs `work` while holding the lock `name`, and resolves true; or resolves false at once,
 * without running it, when someone else holds the lock (another tab uploading that file).
 */
export type TryLock = (name: string, work: () => Promise<void>) => Promise<boolean>;

export interface EngineOptions {
  /** The API's origin (a join link's origin). */
  origin: string;
  joinToken: string;
  store?: SessionStore;
  /** Files uploading at once; the event's per-device limit may hold some of them back. */
  concurrency?: number;
  lock?: TryLock;
  /** Opens paused, as if `pause()` had been called first: the user's pause, remembered by the host across a reload. */
  paused?: boolean;
  /** The guest's name, which new batches and upload sessions carry (see `setDisplayName`). */
  displayName?: string;
  fetch?: typeof fetch;
  clock?: Clock;
  /** Returns [0, 1); drives the backoff's jitter. */
  random?: () => number;
  retry?: Partial<RetryPolicy>;
  /** Files larger than this are sent without a SHA-256 (it is computed in memory). */
  hashLimitBytes?: number;
  /** How long a request without a body may take (see GuestApiOptions). */
  requestTimeoutMs?: number;
  /** Polling of batch snapshots while photos are processed: starts at `minMs`, slows to `maxMs` while nothing changes. */
  processingPoll?: { minMs: number; maxMs: number };
  /** How chunk sizes adapt to the link (chunks.ts); `maxBytes` caps them below the server's chunk size. */
  chunking?: Partial<ChunkPolicy>;
  /** Previews on: every picked file's preview is sent before any original's bytes (preview-first.ts), made ahead and sized for the link (preview-pipeline.ts). */
  previews?: PreviewMaker;
}

export type Listener = (snapshot: EngineSnapshot) => void;

interface Task {
  /** Aborted when the file is cancelled. */
  cancel: AbortController;
  done: Promise<void>;
}

/** How long to leave a file alone after another holder had its lock. */
const LOCK_RETRY_MS = 5_000;

export class UploadEngine {
  readonly api: GuestApi;
  readonly deviceId: string;
  private readonly store: SessionStore;
  private readonly concurrency: number;
  private readonly lock: TryLock;
  private readonly tools: RetryTools;
  private readonly hashLimitBytes: number;
  /** Shared by every upload: they share the link it learns about. */
  private readonly chunks: ChunkSizer;
  private readonly processingPoll: { minMs: number; maxMs: number };
  private readonly previews: PreviewPipeline | null;
  /** Every file, in the order it was added. */
  private readonly records = new Map<string, StoredFile>();
  private readonly activities = new Map<string, Activity>();
  private readonly tasks = new Map<string, Task>();
  /** Files whose lock someone else held, and when to try them again. */
  private readonly lockedElsewhere = new Map<string, number>();
  private readonly slotFreed = new Trigger();
  private readonly stopping = new AbortController();
  private readonly listeners = new Set<Listener>();
  private readonly settledWaiters: Array<(snapshot: EngineSnapshot) => void> = [];
  private registering: Promise<void> | null = null;
  private following: Promise<void> | null = null;
  private emitQueued = false;
  private lastAddedAt = 0;
  private displayName: string | undefined;

  private constructor(options: EngineOptions, store: SessionStore, deviceId: string) {
    const clock = options.clock ?? systemClock;
    this.store = store;
    this.deviceId = deviceId;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.lock = options.lock ?? ((_name, work) => work().then(() => true));
    this.hashLimitBytes = options.hashLimitBytes ?? 64 * 1024 * 1024;
    this.chunks = new ChunkSizer(options.chunking);
    this.processingPoll = options.processingPoll ?? { minMs: 1_000, maxMs: 8_000 };
    this.previews = options.previews ? new PreviewPipeline(options.previews, clock) : null;
    this.tools = {
      clock,
      random: options.random ?? Math.random,
      policy: { ...defaultRetryPolicy, ...options.retry },
      gate: new Gate(),
      reconnected: new Trigger(),
    };
    if (options.paused) this.tools.gate.close("user");
    this.displayName = options.displayName;
    this.api = new GuestApi({
      origin: options.origin,
      joinToken: options.joinToken,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      clock,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    });
  }

  /** Opens the store and carries on with whatever it holds unfinished (a reload, a restart). */
  static async open(options: EngineOptions): Promise<UploadEngine> {
    const store = options.store ?? new MemoryStore();
    const saved = await store.load();
    const deviceId = saved.deviceId ?? `device-${randomId()}`;
    if (!saved.deviceId) await store.putDeviceId(deviceId);
    const engine = new UploadEngine(options, store, deviceId);
    for (const file of saved.files.sort((a, b) => a.addedAt - b.addedAt)) {
      engine.records.set(file.id, file);
      engine.lastAddedAt = Math.max(engine.lastAddedAt, file.addedAt);
    }
    engine.kick();
    return engine;
  }

  /** The guest's name for what they send from now on (batches and sessions not yet created); blank for none. */
  setDisplayName(name: string): void {
    this.displayName = name.trim() || undefined;
  }

  /**
   * Adds picked files and registers the new ones as one batch. A file added before (same name,
   * size and modification time) is not added twice: its existing entry is returned, and taken
   * up again if it had failed, been refused or been cancelled.
   */
  async add(files: Iterable<File>): Promise<FileView[]> {
    const ids: string[] = [];
    const stored: Array<Promise<void>> = [];
    for (const file of files) {
      const existing = this.findByFingerprint(fingerprintOf(file));
      if (existing) {
        ids.push(existing.id);
        await this.takeUpAgain(existing, file);
        continue;
      }
      const record: StoredFile = {
        id: randomId(),
        name: file.name,
        size: file.size,
        type: contentTypeOf(file),
        lastModified: file.lastModified,
        addedAt: (this.lastAddedAt = Math.max(this.tools.clock.now(), this.lastAddedAt + 1)),
        file,
        state: "queued",
        ...refusedHere(file),
      };
      this.records.set(record.id, record);
      if (record.state === "queued") this.previews?.prepare(record.id, file);
      stored.push(this.store.putFile(record));
      ids.push(record.id);
    }
    // Registered and previewed while the picked files are still being stored: IndexedDB takes
    // seconds for twenty photos, which the guest would otherwise wait before anything is sent.
    // A later save of the same file is written after this one (the store keeps their order).
    this.kick();
    await Promise.all(stored);
    const pausedBy = this.tools.gate.pausedBy;
    return ids.map((id) => fileView(this.records.get(id)!, this.activities.get(id), pausedBy));
  }

  /** Holds all uploads (requests in flight are abandoned; their bytes are asked for on resume). */
  pause(): void {
    this.tools.gate.close("user");
    this.emit();
  }

  resume(): void {
    this.tools.gate.open("user");
    this.tools.reconnected.fire();
    this.emit();
  }

  /** The host's word on connectivity (the browser's online/offline events): offline pauses, online resumes. */
  setOnline(online: boolean): void {
    if (online) {
      this.tools.gate.open("offline");
      this.tools.reconnected.fire();
    } else {
      this.tools.gate.close("offline");
    }
    this.emit();
  }

  /** Stops a file that has not arrived yet and aborts its session on the server. */
  async cancel(id: string): Promise<void> {
    if (this.records.get(id)?.state !== "queued") return;
    await this.update(id, { state: "cancelled" });
    const task = this.tasks.get(id);
    task?.cancel.abort();
    await task?.done;
    const record = this.records.get(id);
    // The run may have finished the upload just before it stopped: then there is nothing to abort.
    if (record?.state !== "cancelled") return;
    if (!record.session) return this.withdraw(id, "cancelled");
    const session = record.session;
    withRetries(this.tools, this.stopping.signal, (signal) => this.api.abort(session, signal)).catch(() => {
      // Unreachable or stopped: the session expires on its own.
    });
  }

  /**
   * Tells the server that a file's batch entry will get no session (skipped as a duplicate, or
   * cancelled before it had one), so the batch's snapshot says so rather than `waiting`. Best
   * effort, in the background: a failure leaves the entry `waiting`, which is all it costs.
   */
  private withdraw(id: string, reason: WithdrawReason): void {
    const { batch, session } = this.records.get(id) ?? {};
    if (!batch || session) return;
    withRetries(this.tools, this.stopping.signal, (signal) => this.api.withdrawBatchFile(batch, reason, signal)).catch(() => {
      // Unreachable, refused (a session was opened after all: its own state tells) or stopped.
    });
  }

  /** Tries a failed file again, from the server's offset. */
  retry(id: string): void {
    if (this.records.get(id)?.state !== "failed") return;
    void this.update(id, { state: "queued", error: undefined }).then(() => this.kick());
  }

  /** Takes back (deletes on the server) the photo this device uploaded from a file, and forgets the file. */
  async takeBack(id: string): Promise<void> {
    const record = this.records.get(id);
    if (!record || (record.state !== "processing" && record.state !== "done")) throw new Error("Only an uploaded photo can be taken back.");
    if (!record.session) throw new Error("This file was not sent from here: it matched an earlier upload, which is the one to take back.");
    await this.api.takeBackPhoto(record.session, this.stopping.signal);
    this.records.delete(id);
    await this.store.deleteFile(id);
    this.emit();
  }

  /** The session of a file this device uploaded (any), which proves the device when it makes a claim; null before the first. */
  claimProof(): SessionRef | null {
    for (const record of this.records.values()) if (record.session) return record.session;
    return null;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    listener(this.snapshot());
    return () => this.listeners.delete(listener);
  }

  snapshot(): EngineSnapshot {
    const pausedBy = this.tools.gate.pausedBy;
    const files = [...this.records.values()].map((record) => fileView(record, this.activities.get(record.id), pausedBy));
    return { files, totals: totalsOf(files), pausedBy };
  }

  /** Resolves once every file is done, refused, failed or cancelled (or the engine stopped). */
  settled(): Promise<EngineSnapshot> {
    return new Promise((resolve) => {
      this.settledWaiters.push(resolve);
      this.checkSettled();
    });
  }

  /** Abandons all work in flight, keeping the store as it is, so a new engine resumes from it. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all([...[...this.tasks.values()].map((task) => task.done), this.registering, this.following]);
    this.checkSettled();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Starts whatever can start: registration, uploads, following processing. */
  private kick(): void {
    if (this.stopped) return;
    this.registerNewFiles();
    this.startUploads();
    this.followProcessing();
    this.emit();
    this.checkSettled();
  }

  private findByFingerprint(fingerprint: string): StoredFile | undefined {
    for (const record of this.records.values()) if (fingerprintOf(record) === fingerprint) return record;
    return undefined;
  }

  /**
   * A file picked again: it gets back its bytes if they had been lost (moved on disk), and
   * another go if it failed, was refused or was cancelled.
   */
  private async takeUpAgain(record: StoredFile, file: File): Promise<void> {
    const change: Partial<StoredFile> = record.file ? {} : { file };
    if (record.state === "failed") {
      // Its batch entry and session still hold: resume them.
      Object.assign(change, { state: "queued", error: undefined });
    } else if ((record.state === "refused" && !refusedHere(record)) || record.state === "cancelled") {
      // The server's word was final for that batch entry and session: start afresh.
      Object.assign(change, { state: "queued", error: undefined, batch: undefined, session: undefined, preview: undefined });
    }
    if (Object.keys(change).length > 0) await this.update(record.id, change);
  }

  /** Applies a change to a file and persists it. */
  private async update(id: string, change: Partial<StoredFile>): Promise<void> {
    const current = this.records.get(id);
    if (!current) return;
    const next = { ...current, ...change };
    this.records.set(id, next);
    this.emit();
    // A save the device refuses (its storage full) does not stop the file: this run holds its bytes,
    // and the guest was told when it was picked (`add`); it is just not kept past a reload.
    await this.store.putFile(next).catch(() => {});
    if (next.state !== "queued") this.checkSettled();
    if (change.state === "processing") this.followProcessing();
  }

  private registerNewFiles(): void {
    if (this.registering || this.stopped) return;
    this.registering = this.registerLoop()
      .catch((error) => this.reportUnexpected(error))
      .finally(() => {
        this.registering = null;
        if (this.unregistered().length > 0) this.registerNewFiles();
      });
  }

  private unregistered(): StoredFile[] {
    return [...this.records.values()].filter((record) => record.state === "queued" && !record.batch);
  }

  private async registerLoop(): Promise<void> {
    for (let group = this.unregistered().slice(0, BATCH_LIMIT); group.length > 0 && !this.stopped; group = this.unregistered().slice(0, BATCH_LIMIT)) {
      let changes: Map<string, Partial<StoredFile>>;
      try {
        const created = await withRetries(this.tools, this.stopping.signal, (signal) =>
          this.api.createBatch(this.deviceId, group.map(batchFileRequest), signal, this.displayName),
        );
        changes = registrationChanges(created);
      } catch (error) {
        if (this.stopped && isAbort(error)) return;
        // The whole selection was turned away (closed event, revoked link): each file says why.
        const refused = error instanceof ApiFailure && classify(error).kind === "refused";
        const change: Partial<StoredFile> = { state: refused ? "refused" : "failed", error: error instanceof ApiFailure ? error.info : unexpected(error) };
        changes = new Map(group.map((record) => [record.id, change]));
      }
      await Promise.all(group.map((record) => this.update(record.id, changes.get(record.id) ?? lostInBatch)));
      // Cancelled while its registration was on the way: its new entry will get no session.
      for (const record of group) if (this.records.get(record.id)?.state === "cancelled") this.withdraw(record.id, "cancelled");
      this.startUploads();
    }
  }

  /**
   * Starts uploads, in the order files were added, up to the concurrency. With previews on, every
   * registered file's preview goes first: no original starts while a file still awaits its preview.
   */
  private startUploads(): void {
    const now = this.tools.clock.now();
    const previewing = [...this.records.values()].some((record) => this.awaitsPreview(record));
    this.preparePreviews();
    for (const record of this.records.values()) {
      if (this.stopped || this.tasks.size >= this.concurrency) return;
      if (record.state !== "queued" || !record.batch || this.tasks.has(record.id)) continue;
      if ((this.lockedElsewhere.get(record.id) ?? 0) > now) continue;
      if (previewing && !this.awaitsPreview(record)) continue;
      this.startUpload(record.id, previewing ? "preview" : "original");
    }
  }

  /**
   * Starts making previews as soon as files are picked, while their batch is still being
   * registered; drops those made ahead for files that no longer want one (cancelled, refused).
   */
  private preparePreviews(): void {
    if (!this.previews || this.stopped) return;
    for (const record of this.records.values()) {
      // A running file has taken its preview already, or takes it itself.
      if (this.tasks.has(record.id)) continue;
      if (record.file && record.state === "queued" && !record.session && record.preview === undefined) this.previews.prepare(record.id, record.file);
      else this.previews.forget(record.id);
    }
  }

  private awaitsPreview(record: StoredFile): boolean {
    return this.previews !== null && record.state === "queued" && record.batch !== undefined && !record.session && record.preview === undefined;
  }

  private startUpload(id: string, part: "preview" | "original"): void {
    const cancel = new AbortController();
    const run = linkSignals([cancel.signal, this.stopping.signal]);
    const done = this.runLocked(id, part, run.signal, cancel.signal)
      .catch((error) => {
        if (!(isAbort(error) && run.signal.aborted)) return this.update(id, { state: "failed", error: unexpected(error) });
      })
      .catch((error) => this.reportUnexpected(error))
      .finally(() => {
        run.unlink();
        this.tasks.delete(id);
        this.activities.delete(id);
        // Whatever the outcome, this run holds no device slot any more.
        this.slotFreed.fire();
        this.kick();
      });
    this.tasks.set(id, { cancel, done });
  }

  private async runLocked(id: string, part: "preview" | "original", signal: AbortSignal, cancelled: AbortSignal): Promise<void> {
    const acquired = await this.lock(`edge-photo-uploads/${id}`, async () => {
      // Another tab may have moved this file on (opened its session, finished it) while it held the lock.
      const latest = await this.store.getFile(id);
      const current = this.records.get(id);
      if (!current || current.state !== "queued" || signal.aborted) return;
      if (latest) this.records.set(id, { ...latest, file: current.file ?? latest.file });
      if (latest && latest.state !== "queued") return;
      const host = this.runHost(id, signal, cancelled);
      await (part === "preview" ? sendPreviewFirst(host, this.previews!) : new FileUpload(host).run());
    });
    if (!acquired) {
      this.lockedElsewhere.set(id, this.tools.clock.now() + LOCK_RETRY_MS);
      void this.tools.clock.sleep(LOCK_RETRY_MS, this.stopping.signal).then(() => this.startUploads());
    }
  }

  private runHost(id: string, signal: AbortSignal, cancelled: AbortSignal): FileRunHost {
    return {
      api: this.api,
      deviceId: this.deviceId,
      displayName: () => this.displayName,
      tools: this.tools,
      slotFreed: this.slotFreed,
      hashLimitBytes: this.hashLimitBytes,
      chunks: this.chunks,
      signal,
      cancelled,
      current: () => this.records.get(id)!,
      save: (change: Partial<StoredFile>) => this.update(id, change),
      show: (activity: Activity) => {
        this.activities.set(id, activity);
        this.emit();
      },
      arrivedWithSameBytes: (sha256: string) =>
        [...this.records.values()].find((record) => record.id !== id && record.state === "done" && record.sha256 === sha256),
      withdraw: (reason: WithdrawReason) => this.withdraw(id, reason),
    };
  }

  /** Polls the batch snapshots of files being processed until each is done or failed. */
  private followProcessing(): void {
    if (this.following || this.stopped || !this.hasProcessing()) return;
    this.following = this.followLoop()
      .catch((error) => this.reportUnexpected(error))
      .finally(() => {
        this.following = null;
        this.kick();
      });
  }

  private hasProcessing(): boolean {
    for (const record of this.records.values()) if (record.state === "processing") return true;
    return false;
  }

  private async followLoop(): Promise<void> {
    const { minMs, maxMs } = this.processingPoll;
    let interval = minMs;
    while (!this.stopped && this.hasProcessing()) {
      await this.tools.clock.sleep(interval, this.stopping.signal);
      await this.tools.gate.pass(this.stopping.signal);
      let changed = false;
      for (const [batchId, files] of this.processingByBatch()) {
        if (this.stopped) return;
        const { batchKey } = [...files.values()][0]!.batch!;
        try {
          const changes = processingChanges(await this.api.batch(batchId, batchKey, this.stopping.signal), files);
          await Promise.all([...changes].map(([id, change]) => this.update(id, change)));
          changed ||= changes.size > 0;
        } catch (error) {
          if (isAbort(error)) return;
          if (!(error instanceof ApiFailure)) throw error;
          if (classify(error).kind === "retry") continue;
          // The snapshot is out of reach for good: the bytes arrived, which is what this device can vouch for.
          await Promise.all([...files.values()].map((file) => this.update(file.id, { state: "done" })));
        }
      }
      interval = changed ? minMs : Math.min(maxMs, interval * 1.5);
    }
  }

  /** Files being processed, by batch id, each batch's keyed by batch file id. */
  private processingByBatch(): Map<string, Map<string, StoredFile>> {
    const batches = new Map<string, Map<string, StoredFile>>();
    for (const record of this.records.values()) {
      if (record.state !== "processing" || !record.batch) continue;
      const files = batches.get(record.batch.batchId) ?? new Map<string, StoredFile>();
      files.set(record.batch.fileId, record);
      batches.set(record.batch.batchId, files);
    }
    return batches;
  }

  private checkSettled(): void {
    if (this.settledWaiters.length === 0) return;
    const busy = [...this.records.values()].some((record) => record.state === "queued" || record.state === "processing");
    if (busy && !this.stopped) return;
    const snapshot = this.snapshot();
    for (const resolve of this.settledWaiters.splice(0)) resolve(snapshot);
  }

  /** Tells listeners once per turn of the event loop, however many changes it made. */
  private emit(): void {
    if (this.emitQueued || this.listeners.size === 0) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      const snapshot = this.snapshot();
      for (const listener of this.listeners) listener(snapshot);
    });
  }

  /** A bug, not a network or server condition: surfaced rather than swallowed. */
  private reportUnexpected(error: unknown): void {
    if (this.stopped && isAbort(error)) return;
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * A file refused without asking: the server takes no empty file, and a batch listing one would
 * be turned away whole.
 */
function refusedHere(file: { size: number }): Partial<StoredFile> | null {
  return file.size === 0 ? { state: "refused", error: { code: "empty_file", message: "The file is empty." } } : null;
}

/** A registered selection's answer that did not mention one of its files. */
const lostInBatch: Partial<StoredFile> = {
  state: "failed",
  error: { code: "batch_incomplete", message: "The server's answer left this file out; add it again." },
};

function unexpected(error: unknown): ErrorInfo {
  return { code: "internal_error", message: `Something went wrong in the uploader: ${String(error)}` };
}
