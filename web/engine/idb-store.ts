/**
 * A SessionStore in IndexedDB, for browsers: a reloaded or reopened tab finds its files (File
 * objects are stored as they are) and resumes them without the guest picking them again.
 * One database for the app; each event's entries sit under its own scope in the keys. A file's
 * bytes are written once, apart from its record, so saving a state change never copies a photo.
 */
import { createStore, delMany, get, promisifyRequest, set, setMany, type UseStore } from "idb-keyval";
import type { SessionStore, StoredFile, StoredSession } from "./store.ts";

type SavedFile = Omit<StoredFile, "file">;

/** Bytes are kept while the file may still be sent: until all of it is on the server, or a retry of a failure. */
const needsBytes = (file: StoredFile) => file.state === "queued" || file.state === "failed";

export class IdbStore implements SessionStore {
  private readonly scope: string;
  private readonly db: UseStore;
  /** Files whose bytes are already stored. */
  private readonly blobsStored = new Set<string>();

  /** `scope` keeps events apart, e.g. the join token (or a hash of it). */
  constructor(scope: string, db: UseStore = createStore("edge-photo-uploads", "state")) {
    this.scope = scope;
    this.db = db;
  }

  async load(): Promise<StoredSession> {
    const [deviceId, records, blobs] = await Promise.all([
      get<string>([this.scope, "device"], this.db),
      this.all<SavedFile>("file"),
      this.all<File>("blob"),
    ]);
    for (const id of blobs.keys()) this.blobsStored.add(id);
    const files = [...records.values()].map((record) => ({ ...record, file: blobs.get(record.id) ?? null }));
    return { deviceId: deviceId ?? null, files };
  }

  async getFile(id: string): Promise<StoredFile | undefined> {
    const [record, blob] = await Promise.all([get<SavedFile>(this.key("file", id), this.db), get<File>(this.key("blob", id), this.db)]);
    return record && { ...record, file: blob ?? null };
  }

  async putFile(file: StoredFile): Promise<void> {
    const { file: blob, ...record } = file;
    if (!needsBytes(file)) {
      // The server has every byte (or will never get them): keep the record, free the photo's space.
      await this.db("readwrite", (store) => {
        store.put(record, this.key("file", file.id));
        store.delete(this.key("blob", file.id));
        return promisifyRequest(store.transaction);
      });
      this.blobsStored.delete(file.id);
    } else if (blob && !this.blobsStored.has(file.id)) {
      // Marked before the write, so a save made while it runs does not copy the photo again.
      this.blobsStored.add(file.id);
      try {
        await setMany([[this.key("file", file.id), record], [this.key("blob", file.id), blob]], this.db);
      } catch (error) {
        this.blobsStored.delete(file.id);
        throw error;
      }
    } else {
      await set(this.key("file", file.id), record, this.db);
    }
  }

  async deleteFile(id: string): Promise<void> {
    await delMany([this.key("file", id), this.key("blob", id)], this.db);
    this.blobsStored.delete(id);
  }

  async putDeviceId(deviceId: string): Promise<void> {
    await set([this.scope, "device"], deviceId, this.db);
  }

  private key(kind: "file" | "blob", id: string): IDBValidKey {
    return [this.scope, kind, id];
  }

  /** Every entry of one kind in this scope, by id: one key range, not the whole database. */
  private async all<T>(kind: "file" | "blob"): Promise<Map<string, T>> {
    // Arrays sort after strings, so [scope, kind, <any string>] lies within [scope, kind] … [scope, kind, []].
    const range = IDBKeyRange.bound([this.scope, kind], [this.scope, kind, []]);
    const [keys, values] = await this.db("readonly", (store) =>
      Promise.all([promisifyRequest(store.getAllKeys(range)), promisifyRequest(store.getAll(range))]),
    );
    return new Map(keys.map((key, index) => [(key as [string, string, string])[2], values[index] as T]));
  }
}
