/** The service's HTTP surface as plain clients meet it under `wrangler dev`. */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startE2e, type E2e } from "./helpers";

let e2e: E2e;
beforeAll(async () => {
  e2e = await startE2e("e2e-api-");
});
afterAll(() => e2e?.stack.stop());

describe("the OpenAPI document", () => {
  it("validates against the OpenAPI 3.1 schema", async () => {
    const response = await fetch(`${e2e.service.origin}/api/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as { servers: unknown };
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.servers).toEqual([{ url: e2e.service.origin }]);
  });
});
