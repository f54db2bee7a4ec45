/**
 * Registers the service worker (web/guest/public/sw.js) for join links only: it keeps the app
 * shell so a join link opens on a flaky connection, and leaves the dashboard under /admin/ alone.
 */
export function registerServiceWorker(): void {
  if (!("serviceWorker" in navigator)) return;
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/join/" }).catch((error: unknown) => {
      // The app works without it; it only opens less reliably offline.
      console.warn("The service worker could not be registered:", error);
    });
  });
}
