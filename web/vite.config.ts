/**
 * Builds one of the two web apps; scripts/build-web.mjs runs it once per app. The mode picks it:
 *
 *   --mode guest      the guest uploader at the site root (web/dist), which the Worker serves as a
 *                     single-page app, so /join/{token} falls back to its index.html;
 *   --mode dashboard  the organisers' dashboard under /admin/ (web/dist/admin), calling the API on
 *                     its own origin — or, with VITE_API_ORIGIN set, a standalone site for
 *                     Cloudflare Pages (web/dashboard/dist) calling the API on that origin.
 *
 * Whichever app sits at a site's root also gets the `_headers` file (web/shared/security-headers.ts)
 * and web/public's files.
 */
import { cpSync, existsSync } from "node:fs";
import path from "node:path";
import { defineConfig, type Plugin } from "vite";
import { headersFile } from "./shared/security-headers.ts";

const webDir = import.meta.dirname;

/** VITE_API_ORIGIN, checked: a bare origin such as https://photos.example.com, or undefined. */
function apiOrigin(): string | undefined {
  const value = process.env.VITE_API_ORIGIN?.trim();
  if (!value) return undefined;
  const origin = URL.canParse(value) ? new URL(value).origin : "null";
  if (origin === "null" || origin !== value.replace(/\/$/, "")) {
    throw new Error(`VITE_API_ORIGIN must be an origin like https://photos.example.com, not ${JSON.stringify(value)}`);
  }
  return origin;
}

/** Writes what the root of a site needs besides its app: `_headers` and web/public's files. */
function siteRoot(options: { apiOrigin: string | undefined; hashedAssetPaths: string[] }): Plugin {
  let outDir = "";
  return {
    name: "site-root",
    apply: "build",
    configResolved(config) {
      outDir = config.build.outDir;
    },
    generateBundle() {
      this.emitFile({ type: "asset", fileName: "_headers", source: headersFile(options) });
    },
    writeBundle() {
      const publicDir = path.join(webDir, "public");
      if (existsSync(publicDir)) cpSync(publicDir, outDir, { recursive: true });
    },
  };
}

export default defineConfig(({ mode }) => {
  if (mode !== "guest" && mode !== "dashboard") throw new Error(`build with --mode guest or --mode dashboard, not ${mode}`);
  const origin = mode === "dashboard" ? apiOrigin() : undefined;
  const standalone = origin !== undefined;
  const base = mode === "dashboard" && !standalone ? "/admin/" : "/";
  const outDir = mode === "guest" ? "dist" : standalone ? "dashboard/dist" : "dist/admin";
  const atSiteRoot = mode === "guest" || standalone;
  return {
    root: path.join(webDir, mode),
    base,
    // The guest app's own root-scoped files (service worker, manifest, icons), if it has any.
    publicDir: mode === "guest" ? path.join(webDir, "guest/public") : false,
    envDir: webDir,
    oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
    build: {
      outDir: path.join(webDir, outDir),
      emptyOutDir: true,
      target: "es2022",
      // No inline <script> or data: URL may end up in the page: the CSP allows neither.
      assetsInlineLimit: 0,
      // Every browser the apps support has modulepreload; the polyfill would be dead weight.
      modulePreload: { polyfill: false },
      reportCompressedSize: false,
    },
    plugins: atSiteRoot
      ? [siteRoot({ apiOrigin: origin, hashedAssetPaths: standalone ? ["/assets/*"] : ["/assets/*", "/admin/assets/*"] })]
      : [],
  };
});
