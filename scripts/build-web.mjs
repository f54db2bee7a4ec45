// Builds the web apps (web/vite.config.ts) and prints each one's JavaScript size, gzipped:
//   node scripts/build-web.mjs           guest app at web/dist, dashboard at web/dist/admin (what the Worker serves)
//   VITE_API_ORIGIN=https://photos.example.com node scripts/build-web.mjs
//                                        only the dashboard, standalone for Cloudflare Pages, at web/dashboard/dist
//   --budget                             fails when the guest app's JS is over its budget (npm test)
import { gzipSync } from "node:zlib";
import path from "node:path";
import { build } from "vite";

// A production build whoever runs this: under vitest (NODE_ENV=test) Vite would otherwise pick
// the development JSX runtime, which is bigger and embeds source file paths.
process.env.NODE_ENV = "production";

const GUEST_BUDGET_BYTES = 60 * 1024;
const root = path.resolve(import.meta.dirname, "..");
const standalone = Boolean(process.env.VITE_API_ORIGIN?.trim());
const apps = standalone ? ["dashboard"] : ["guest", "dashboard"];

/** Sums the gzipped size of every JavaScript chunk of a build (entry and lazy chunks alike). */
function gzippedJs(output) {
  const outputs = (Array.isArray(output) ? output : [output]).flatMap((result) => result.output);
  return outputs.filter((file) => file.type === "chunk").reduce((total, chunk) => total + gzipSync(chunk.code, { level: 9 }).length, 0);
}

const sizes = {};
for (const app of apps) {
  const output = await build({ configFile: path.join(root, "web/vite.config.ts"), mode: app, logLevel: "warn" });
  sizes[app] = gzippedJs(output);
}

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`web build (${standalone ? `dashboard for ${process.env.VITE_API_ORIGIN}, in web/dashboard/dist` : "web/dist"}):`);
for (const app of apps) {
  const budget = app === "guest" ? ` (budget ${kb(GUEST_BUDGET_BYTES)})` : "";
  console.log(`  ${app.padEnd(9)} JS ${kb(sizes[app]).padStart(9)} gzip${budget}`);
}

if (sizes.guest > GUEST_BUDGET_BYTES) {
  const message = `the guest app's JS is ${kb(sizes.guest)} gzipped, over its ${kb(GUEST_BUDGET_BYTES)} budget`;
  if (process.argv.includes("--budget")) {
    console.error(`web build: ${message}`);
    process.exit(1);
  }
  console.warn(`web build: warning: ${message}`);
}
