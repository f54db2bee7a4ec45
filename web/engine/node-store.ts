/**
 * A SessionStore in one JSON file, for Node (the command-line uploader): resumable across runs.
 * Files are recorded by path and opened again lazily (fs.openAsBlob), so no photo is read into
 * memory; one that changed or went away since is handed back as unavailable. The file holds
 * upload and batch keys, so only its owner may read it.
 */
import { openAsBlob } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { contentTypeOf } from "./files.ts";
import type { SessionStore, StoredFile, StoredSession } from "./store.ts";

type SavedFile = Omit<StoredFile, "file"> & { path: string };

interface SavedState {
  version: 1;
  deviceId: string | null;
  files: SavedFile[];
}

export class JsonFileStore implements SessionStore {
  readonly path: string;
  private deviceId: string | null = null;
  private readonly files = new Map<string, StoredFile>();
  /** Where each opened file lives; the engine hands back the same File objects it was given. */
  private readonly paths = new WeakMap<File, string>();
  private readonly pathsById = new Map<string, string>();
  /** The last write, and a write that has not started yet (later changes join it). */
  private written: Promise<void> = Promise.resolve();
  private pending: Promise<void> | null = null;

  private constructor(statePath: string) {
    this.path = statePath;
  }

  /** Reads the state file if there is one (a missing file is an empty state). */
  static async open(statePath: string): Promise<JsonFileStore> {
    const store = new JsonFileStore(path.resolve(statePath));
    let saved: SavedState | null = null;
    try {
      saved = JSON.parse(await readFile(store.path, "utf8")) as SavedState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new Error(`cannot read the state file ${store.path}: ${String(error)}`);
    }
    store.deviceId = saved?.deviceId ?? null;
    for (const { path: filePath, ...record } of saved?.files ?? []) {
      store.pathsById.set(record.id, filePath);
      store.files.set(record.id, { ...record, file: await store.reopen(filePath, record) });
    }
    return store;
  }

  /** A File for the photo at `filePath`, read lazily; the store records it by that path. */
  async openFile(filePath: string): Promise<File> {
    const absolute = path.resolve(filePath);
    const info = await stat(absolute);
    const name = path.basename(absolute);
    const file = new File([await openAsBlob(absolute)], name, {
      type: contentTypeOf({ name, type: "" }),
      lastModified: Math.floor(info.mtimeMs),
    });
    this.paths.set(file, absolute);
    return file;
  }

  async load(): Promise<StoredSession> {
    return { deviceId: this.deviceId, files: [...this.files.values()].map((file) => ({ ...file })) };
  }

  async getFile(id: string): Promise<StoredFile | undefined> {
    const file = this.files.get(id);
    return file && { ...file };
  }

  async putFile(file: StoredFile): Promise<void> {
    const filePath = file.file ? this.paths.get(file.file) : undefined;
    if (filePath) this.pathsById.set(file.id, filePath);
    if (!this.pathsById.has(file.id)) throw new Error(`${file.name} was not opened through this store (openFile), so it could not be found again`);
    this.files.set(file.id, { ...file });
    await this.flush();
  }

  async deleteFile(id: string): Promise<void> {
    this.files.delete(id);
    this.pathsById.delete(id);
    await this.flush();
  }

  async putDeviceId(deviceId: string): Promise<void> {
    this.deviceId = deviceId;
    await this.flush();
  }

  /** The same bytes as when it was picked, or null (moved, edited, deleted). */
  private async reopen(filePath: string, record: Omit<StoredFile, "file">): Promise<File | null> {
    try {
      const info = await stat(filePath);
      if (info.size !== record.size || Math.floor(info.mtimeMs) !== record.lastModified) return null;
      const file = new File([await openAsBlob(filePath)], record.name, { type: record.type, lastModified: record.lastModified });
      this.paths.set(file, filePath);
      return file;
    } catch {
      return null;
    }
  }

  /** Writes the whole state once more, after any write under way; changes made meanwhile join it. */
  private flush(): Promise<void> {
    this.pending ??= this.written.then(() => {
      this.pending = null;
      return this.write();
    });
    this.written = this.pending.catch(() => {});
    return this.pending;
  }

  /** Whole or not at all: a crash mid-write leaves the previous state file. */
  private async write(): Promise<void> {
    const state: SavedState = {
      version: 1,
      deviceId: this.deviceId,
      files: [...this.files.values()].map(({ file: _file, ...record }) => ({ ...record, path: this.pathsById.get(record.id)! })),
    };
    await mkdir(path.dirname(this.path), { recursive: true, mode: 0o700 });
    const temporary = `${this.path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(state, null, 1), { mode: 0o600 });
    await rename(temporary, this.path);
  }
}
