/** Builds the web apps once before the browser tests, so they test the sources as they are now. */
import { execFileSync } from "node:child_process";
import path from "node:path";

export default function setup(): void {
  const root = path.resolve(import.meta.dirname, "../..");
  execFileSync(process.execPath, [path.join(root, "scripts/build-web.mjs")], { cwd: root, stdio: "inherit" });
}
