import { describe, expect, it } from "vitest";
import { fileUrlExpiry } from "../../src/downloads/photo-files";

const HOUR = 60 * 60 * 1000;
const now = Date.UTC(2026, 5, 14, 17, 3, 22, 500);
/** How long from `now` a URL signed with FILE_URL_TTL_MS = `value` lasts. */
const lifetime = (value?: string) => fileUrlExpiry({ FILE_URL_TTL_MS: value } as Pick<Env, "FILE_URL_TTL_MS">, now) - now;

describe("signed photo URLs' lifetime (FILE_URL_TTL_MS)", () => {
  it("lasts an hour by default, rounded up to the next 10 minutes so listings within them share URLs", () => {
    expect(lifetime()).toBeGreaterThanOrEqual(HOUR);
    expect(lifetime()).toBeLessThan(HOUR + 10 * 60 * 1000);
    expect((now + lifetime()) % (10 * 60 * 1000)).toBe(0);
    expect(lifetime("3600000")).toBe(lifetime());
  });

  it("follows a configured lifetime, rounded up to a sixth of it", () => {
    expect(lifetime("20000")).toBeGreaterThanOrEqual(20_000);
    expect(lifetime("20000")).toBeLessThan(20_000 + 20_000 / 6);
  });

  it("falls back to an hour for a value that is not a number or under 10 s", () => {
    for (const value of ["", "soon", "-5", "500"]) expect(lifetime(value), value).toBeGreaterThanOrEqual(HOUR);
  });
});
