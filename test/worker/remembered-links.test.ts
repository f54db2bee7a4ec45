/**
 * What an isolate remembers of join links (core/events.ts `joinedEvents`, at most 1000) serves
 * creates' one-round-trip path and uploads' admission checks. Strangers trying made-up links
 * must not push the real ones out.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, createEvent, startUpload } from "./helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The D1 statements the Worker prepares while `work` runs, by their SQL. */
async function queriesDuring(work: () => Promise<unknown>): Promise<string[]> {
  const prepare = env.DB.prepare.bind(env.DB);
  const queries: string[] = [];
  vi.spyOn(env.DB, "prepare").mockImplementation((query: string) => {
    queries.push(query);
    return prepare(query);
  });
  await work();
  vi.restoreAllMocks();
  return queries;
}

const randomToken = () => [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, "0")).join("");

describe("links this isolate remembers", () => {
  it("are not pushed out by a stranger trying a thousand made-up links", async () => {
    const { join_token } = await createEvent();
    await startUpload(join_token, 1000); // remembered from here on
    const remembered = await queriesDuring(() => startUpload(join_token, 1000));
    // One statement: the insert, which checks the remembered link and event as it runs.
    expect(remembered.filter((query) => /^select/i.test(query))).toEqual([]);

    for (let i = 0; i < 1000; i++) {
      const probe = await call(`/api/v1/events/${randomToken()}`);
      expect(probe.status).toBe(404);
    }
    const after = await queriesDuring(() => startUpload(join_token, 1000));
    expect(after.filter((query) => /^select/i.test(query))).toEqual([]);
  }, 60_000);
});
