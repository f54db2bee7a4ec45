// What the benches share: knobs, a bounded worker pool, digests, and running on a DevStack that
// is torn down however the run ends.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { DevStack, root } from "../scripts/lib/dev-server.ts";

export const MiB = 1024 * 1024;

export function positiveInt(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** Runs `work(item, index)` over `items` with at most `limit` in flight; resolves to the results in order. */
export async function pool(items, limit, work) {
  const results = new Array(items.length);
  let next = 0;
  const runner = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, runner));
  return results;
}

export const wranglerVersion = () => JSON.parse(readFileSync(path.join(root, "node_modules/wrangler/package.json"), "utf8")).version;

/**
 * Runs `main(stack)` on a fresh DevStack (temporary persist dir), then stops its Workers and
 * removes the directory, also on Ctrl-C. Sets a non-zero exit code if `main` throws.
 */
export async function runOnStack(prefix, main) {
  const stack = DevStack.create(prefix);
  let interrupted = false;
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      interrupted = true;
      console.error(`\n${signal}: stopping wrangler and removing ${stack.dir}`);
      stack.stop().finally(() => process.exit(130));
    });
  }
  try {
    await main(stack);
  } catch (error) {
    if (!interrupted) console.error(`bench failed: ${error instanceof Error ? error.message : error}`);
    process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}
