import { useState } from "preact/hooks";
import type { UploadEngine } from "../engine/index.ts";
import { useAnnounce } from "./announcer.tsx";
import { t } from "./i18n.ts";

/**
 * Takes back (deletes, for everyone) a photo this device uploaded, after asking. The engine
 * holds the upload's key that authorises it, and forgets the file afterwards. The button goes
 * away with its photo, so `onTakenBack` says where focus goes next.
 */
export function TakeBackButton({ engine, fileId, label, onTakenBack }: { engine: UploadEngine; fileId: string; label: string; onTakenBack: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const announce = useAnnounce();

  const takeBack = async () => {
    if (!confirm(t.takeBackConfirm)) return;
    setBusy(true);
    setError(null);
    try {
      await engine.takeBack(fileId);
      announce(t.announceTakenBack);
      onTakenBack();
    } catch (reason) {
      setError(t.takeBackFailed(reason instanceof Error ? reason.message : String(reason)));
      setBusy(false);
    }
  };

  return (
    <>
      <button type="button" class="button button-small" aria-label={label} disabled={busy} onClick={takeBack}>
        {t.takeBack}
      </button>
      {error && (
        <p class="error-text small" role="alert">
          {error}
        </p>
      )}
    </>
  );
}
