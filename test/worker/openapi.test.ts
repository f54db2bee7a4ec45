import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import { servedRoutes } from "../../src/http/openapi";
import { call } from "./helpers";

interface Operation {
  requestBody?: { content: Record<string, { schema: { $ref?: string; properties?: Record<string, unknown>; required?: string[] } }> };
  parameters?: Array<{ name: string; in: string }>;
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
}

async function served(): Promise<Document> {
  const response = await call("/api/openapi.json");
  expect(response.status).toBe(200);
  return response.json<Document>();
}

type Schema = { $ref?: string; properties?: Record<string, unknown>; required?: string[] };
const schemaOf = (document: Document, schema: Schema): Schema => (schema.$ref ? document.components.schemas[schema.$ref.split("/").pop()!]! : schema);

describe("the OpenAPI document", () => {
  it("describes every route the app serves, and nothing it does not", async () => {
    const document = await served();
    const documented = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    const routes = servedRoutes(app.routes);
    expect(routes.filter((route) => !documented.includes(route))).toEqual([]);
    expect(documented.filter((route) => !routes.includes(route))).toEqual([]);
  });

  it("is OpenAPI 3.1 with request schemas from the zod validators", async () => {
    const document = await served();
    expect(document.openapi).toBe("3.1.0");
    const create = document.paths["/api/v1/events/{token}/uploads"]!.post!;
    const schema = schemaOf(document, create.requestBody!.content["application/json"]!.schema);
    expect(Object.keys(schema.properties!)).toEqual(expect.arrayContaining(["filename", "size", "content_type", "device_id", "sha256", "batch_id"]));
    expect(schema.required).toEqual(expect.arrayContaining(["filename", "size", "content_type", "device_id"]));
    const moderation = document.paths["/api/v1/admin/events/{eventId}/photos/{photoId}/{action}"]!.post!;
    expect(moderation.parameters!.map((p) => p.name)).toEqual(["eventId", "photoId", "action"]);
    const photos = document.paths["/api/v1/admin/events/{eventId}/photos"]!.get!;
    expect(photos.parameters!.filter((p) => p.in === "query").map((p) => p.name)).toEqual(expect.arrayContaining(["status", "approved", "cursor", "limit"]));
  });

  it("states every response: success shapes, and errors as the one ErrorBody whose code is the enum of stable codes", async () => {
    const document = await served();
    const receipt = schemaOf(document, document.paths["/api/v1/events/{token}/uploads/{id}/complete"]!.post!.responses["201"]!.content!["application/json"]!.schema as Schema);
    // The server's receipt is always "processing" (hand-written client types said any string).
    expect(receipt.properties!.status).toEqual({ type: "string", enum: ["processing"] });
    const errorBody = document.components.schemas.ErrorBody!.properties!.error as { properties: { code: { enum: string[] } } };
    expect(errorBody.properties.code.enum).toEqual(expect.arrayContaining(["session_expired", "invalid_request", "upload_not_found"]));
    expect(errorBody.properties.code.enum).not.toContain("upload_expired");
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const statuses = Object.keys(operation.responses);
        expect(statuses.some((status) => /^[123]/.test(status)), `${method} ${path}`).toBe(true);
        for (const status of statuses.filter((status) => /^[45]/.test(status))) {
          expect(operation.responses[status]!.content!["application/json"]!.schema, `${method} ${path} ${status}`).toEqual({ $ref: "#/components/schemas/ErrorBody" });
        }
      }
    }
  });
});
