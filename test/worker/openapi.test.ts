import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import { operations, servedRoutes } from "../../src/http/openapi";
import { call } from "./helpers";

describe("the OpenAPI document", () => {
  it("describes every route the app serves, and nothing it does not", () => {
    const served = servedRoutes(app.routes).sort();
    expect(served.filter((route) => !operations[route])).toEqual([]);
    expect(Object.keys(operations).filter((route) => !served.includes(route))).toEqual([]);
  });

  it("is served at /api/openapi.json with request schemas from the zod validators", async () => {
    const response = await call("/api/openapi.json");
    expect(response.status).toBe(200);
    const document = await response.json<{
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required?: string[] } }> }; parameters: Array<{ name: string; in: string }> }>>;
    }>();
    expect(document.openapi).toBe("3.1.0");
    const operationCount = Object.values(document.paths).reduce((sum, methods) => sum + Object.keys(methods).length, 0);
    expect(operationCount).toBe(servedRoutes(app.routes).length);

    const create = document.paths["/api/v1/events/{token}/uploads"]!.post!;
    const schema = create.requestBody!.content["application/json"]!.schema;
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["filename", "size", "content_type", "device_id", "sha256", "batch_id"]));
    expect(schema.required).toEqual(expect.arrayContaining(["filename", "size", "content_type", "device_id"]));
    const moderation = document.paths["/api/v1/admin/events/{eventId}/photos/{photoId}/{action}"]!.post!;
    expect(moderation.parameters.map((p) => p.name)).toEqual(["eventId", "photoId", "action"]);
    const photos = document.paths["/api/v1/admin/events/{eventId}/photos"]!.get!;
    expect(photos.parameters.filter((p) => p.in === "query").map((p) => p.name)).toEqual(expect.arrayContaining(["status", "approved", "cursor", "limit"]));
  });
});
