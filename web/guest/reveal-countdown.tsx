import { useEffect, useState } from "preact/hooks";
import { formatDateTime, t } from "./i18n.ts";

/** While the server has not opened the gallery at its time, ask it again this often (phones' clocks drift). */
const RECHECK_MS = 5_000;

/**
 * Reveal later: until `opensAt` the gallery shows a countdown, and the guest's own uploads stay
 * under Upload. At the moment (by this phone's clock) the app asks the server again, and keeps
 * asking every few seconds until the server, whose clock decides, says the gallery is open.
 */
export function RevealCountdown({ opensAt, recheck }: { opensAt: string; recheck: () => void }) {
  const at = Date.parse(opensAt);
  const [now, setNow] = useState(Date.now());
  const left = at - now;

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    if (left > 0) return;
    recheck();
    const timer = setInterval(recheck, RECHECK_MS);
    return () => clearInterval(timer);
  }, [left > 0, recheck]);

  const seconds = Math.max(0, Math.ceil(left / 1000));
  return (
    <section class="card" aria-labelledby="gallery-heading">
      <h2 id="gallery-heading" tabIndex={-1}>
        {t.galleryTitle}
      </h2>
      {left > 0 ? (
        <>
          <p class="reveal-countdown">{t.revealSoon(t.countdown(Math.floor(seconds / 3600), Math.floor((seconds % 3600) / 60), seconds % 60), formatDateTime(opensAt))}</p>
          <p class="muted">
            {t.revealOwnOnly}
          </p>
        </>
      ) : (
        <p role="status">{t.revealOpening}</p>
      )}
    </section>
  );
}
