/**
 * Batches on the wire: a selection is registered in one call (at most 500 files each), and the
 * server's batch snapshot tells how processing went. Both come back as changes to stored files.
 */
import type { BatchFileRequest, BatchSnapshot, CreatedBatch, ErrorInfo } from "./api.ts";
import type { StoredFile } from "./store.ts";

/** The most files one `POST /batches` takes. */
export const BATCH_LIMIT = 500;

export function batchFileRequest(file: StoredFile): BatchFileRequest {
  return {
    client_id: file.id,
    filename: file.name,
    size: file.size,
    content_type: file.type,
    ...(file.sha256 ? { sha256: file.sha256 } : {}),
  };
}

/** Each registered file's batch capability, or its refusal. */
export function registrationChanges(created: CreatedBatch): Map<string, Partial<StoredFile>> {
  const changes = new Map<string, Partial<StoredFile>>();
  for (const file of created.files) {
    changes.set(
      file.client_id,
      file.state === "refused"
        ? { state: "refused", error: file.error ?? { code: "refused", message: "The server refused this file." } }
        : { batch: { batchId: created.batch_id, batchKey: created.batch_key, fileId: file.file_id } },
    );
  }
  return changes;
}

/** How processing ended for the given files (stored files keyed by batch file id), where it has. */
export function processingChanges(snapshot: BatchSnapshot, byFileId: ReadonlyMap<string, StoredFile>): Map<string, Partial<StoredFile>> {
  const changes = new Map<string, Partial<StoredFile>>();
  for (const file of snapshot.files) {
    const stored = byFileId.get(file.file_id);
    if (!stored) continue;
    switch (file.state) {
      case "done":
        changes.set(stored.id, { state: "done", ...(file.photo_id ? { photoId: file.photo_id } : {}) });
        break;
      case "failed":
      case "refused":
      case "cancelled":
        changes.set(stored.id, { state: file.state, error: errorInfo(file.error, file.state) });
        break;
      // Earlier states lag behind what this device already knows: still processing.
    }
  }
  return changes;
}

function errorInfo(error: ErrorInfo | string | null, state: string): ErrorInfo {
  if (error && typeof error === "object") return error;
  return { code: `processing_${state}`, message: typeof error === "string" ? error : `The photo ended ${state}.` };
}
