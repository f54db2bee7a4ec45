/** Builds the web apps once before the browser tests, so they test the sources as they are now (unless npm test just did). */
import { execFileSync } from "node:child_process";
import path from "node:path";

export default function setup(): void {
  // npm test builds them itself just before, and runs the end-to-end suite beside this one.
  if (process.env.WEB_BUILT) return;
  const root = path.resolve(import.meta.dirname, "../..");
  execFileSync(process.execPath, [path.join(root, "scripts/build-web.mjs")], { cwd: root, stdio: "inherit" });
}
