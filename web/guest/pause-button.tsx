import type { UploadEngine } from "../engine/index.ts";
import { t } from "./i18n.ts";

/**
 * Holds or lets go of all of this device's uploads. The engine's gate keeps the guest's pause
 * apart from being offline, so coming back online does not undo a pause the guest chose; the
 * label says what a tap does, and the live region says what happened.
 */
export function PauseButton({ engine, pausedByGuest }: { engine: UploadEngine; pausedByGuest: boolean }) {
  return (
    <button type="button" class="button button-small pause-button" onClick={() => (pausedByGuest ? engine.resume() : engine.pause())}>
      {pausedByGuest ? t.resumeUploads : t.pauseUploads}
    </button>
  );
}
