/**
 * Preview first (issue 15): before any original's bytes, each picked file's preview goes ahead
 * on its own upload session, so its photo is viewable within seconds. A session holding only a
 * preview takes none of the device's upload slots on the server, so every file's preview can go
 * before the originals go a few at a time. Best effort throughout: a file without a preview
 * (HEIC the browser cannot decode, a refused or lost preview) simply has its original sent as usual.
 */
import { isAbort } from "./control.ts";
import { openSession, type FileRunHost } from "./file-upload.ts";
import { sha256Hex } from "./files.ts";
import type { PreviewPipeline } from "./preview-pipeline.ts";
import { withRetries } from "./retry.ts";

/**
 * Sends the file's preview on a new session (hashing it first, so the session declares its
 * SHA-256), records how that went, and tells `previews` how fast the send was.
 */
export async function sendPreviewFirst(host: FileRunHost, previews: PreviewPipeline): Promise<void> {
  const { file, id } = host.current();
  if (!file) return host.save({ preview: "none" });
  try {
    if (host.current().sha256 === undefined) await host.save({ sha256: await sha256Hex(file, host.hashLimitBytes) });
    const sha256 = host.current().sha256;
    // The same bytes arrived before: the original's run will skip the file, so it needs no photo of its own.
    if (sha256 && host.arrivedWithSameBytes(sha256)) return host.save({ preview: "none" });
    const preview = await previews.take(id, file, host.signal);
    host.signal.throwIfAborted();
    if (!preview) return host.save({ preview: "none" });
    // Like the original's create: not abandoned midway for a pause, so no session is opened unheard of.
    const session = host.current().session ?? (await openSession(host, host.cancelled));
    await withRetries(host.tools, host.signal, async (signal) => {
      const startedAt = host.tools.clock.now();
      await host.api.putPreview(session, preview, signal);
      previews.link.sent(preview.size, startedAt, host.tools.clock.now());
    });
    await host.save({ preview: "sent" });
  } catch (error) {
    // Stopped or cancelled: the next run decides again.
    if (isAbort(error) && host.signal.aborted) return;
    await host.save({ preview: "none" });
  }
}
