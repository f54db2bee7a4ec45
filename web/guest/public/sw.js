/*
 * The guest app's service worker (registered for /join/ by web/guest/service-worker.ts), plain
 * JavaScript with no build step. It lets a join link open on venue Wi-Fi that comes and goes:
 *
 * - page loads (navigations) go to the network first, and fall back to the last app shell seen
 *   (every join link gets the same index.html, so one copy serves them all);
 * - the build's content-hashed /assets/* never change, so they come from the cache first;
 * - the API (/api/*) is never touched: uploads and live answers go straight to the network.
 *
 * Each fresh shell is stored with the assets it names, and assets no shell names any more are
 * dropped, so the cache holds one version of the app.
 */
const SHELL_CACHE = "guest-shell-v1";
const ASSET_CACHE = "guest-assets-v1";
const SHELL_KEY = "/join/";

self.addEventListener("install", (event) => {
  // Ready the shell now, so the very next visit opens offline; a failure here must not block installing.
  event.waitUntil(fetch(SHELL_KEY).then(keepShell).catch(() => {}).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") event.respondWith(networkFirst(event));
  else if (url.pathname.startsWith("/assets/")) event.respondWith(cacheFirst(request));
});

async function networkFirst(event) {
  try {
    const response = await fetch(event.request);
    if (response.ok && isHtml(response)) event.waitUntil(keepShell(response.clone()));
    return response;
  } catch (error) {
    const shell = await caches.match(SHELL_KEY, { cacheName: SHELL_CACHE });
    if (shell) return shell;
    throw error;
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { cacheName: ASSET_CACHE });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) {
    const cache = await caches.open(ASSET_CACHE);
    await cache.put(request, response.clone());
  }
  return response;
}

/** Stores the shell, fetches the assets it names that are not cached yet, and drops the others. */
async function keepShell(response) {
  if (!response.ok || !isHtml(response)) return;
  const html = await response.clone().text();
  const named = new Set(Array.from(html.matchAll(/["'](\/assets\/[^"'?#]+)["']/g), (match) => new URL(match[1], self.location.origin).href));
  const assets = await caches.open(ASSET_CACHE);
  const cached = new Set((await assets.keys()).map((request) => request.url));
  await Promise.all([...named].filter((url) => !cached.has(url)).map((url) => assets.add(url)));
  await Promise.all([...cached].filter((url) => !named.has(url)).map((url) => assets.delete(url)));
  await (await caches.open(SHELL_CACHE)).put(SHELL_KEY, response);
}

function isHtml(response) {
  return (response.headers.get("content-type") || "").includes("text/html");
}
