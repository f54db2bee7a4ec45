/**
 * The engine's TryLock on the Web Locks API, so two tabs of the guest app never upload the
 * same file at once. Null where the API is missing (insecure contexts, old browsers): then each
 * tab goes its own way, and the server's offsets still keep the bytes right.
 */
import type { TryLock } from "./engine.ts";

export function webLocks(): TryLock | null {
  const locks = globalThis.navigator?.locks;
  if (!locks) return null;
  return async (name, work) =>
    await locks.request(name, { ifAvailable: true }, async (lock) => {
      if (!lock) return false;
      await work();
      return true;
    });
}
