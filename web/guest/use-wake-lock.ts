import { useEffect } from "preact/hooks";

/**
 * Keeps the screen on while `wanted` (Screen Wake Lock, where the browser has it): a phone that
 * dims and locks suspends the page, and the uploads with it. The browser drops the lock when the
 * page is hidden, so it is asked for again when the page is back.
 */
export function useWakeLock(wanted: boolean): void {
  useEffect(() => {
    if (!wanted || !("wakeLock" in navigator)) return;
    let sentinel: WakeLockSentinel | null = null;
    let done = false;
    const acquire = async () => {
      if (document.visibilityState !== "visible" || (sentinel && !sentinel.released)) return;
      try {
        const acquired = await navigator.wakeLock.request("screen");
        if (done) void acquired.release();
        else sentinel = acquired;
      } catch {
        // Refused (battery saver, no permission): uploads go on, the screen may sleep.
      }
    };
    void acquire();
    document.addEventListener("visibilitychange", acquire);
    return () => {
      done = true;
      document.removeEventListener("visibilitychange", acquire);
      void sentinel?.release();
    };
  }, [wanted]);
}
