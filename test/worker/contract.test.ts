/**
 * The contract test: every operation of the served OpenAPI document is called on the running
 * service (in the Workers runtime, through the Worker's own fetch handler), with the document's
 * own examples for its body and headers, and every answer is checked against what the document
 * declares: its status is one the operation lists, and a JSON body parses with that response's
 * zod schema (the same object the document was generated from).
 *
 * In-runtime rather than against `wrangler dev`: the answers come from the same code and
 * bindings, the zod schemas can be used directly, and it runs with the rest of the suite.
 */
import { env } from "cloudflare:workers";
import type { z } from "zod";
import { describe, expect, it } from "vitest";
import { app } from "../../src/http/app";
import { call, createEvent, startUpload } from "./helpers";

interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema?: { example?: unknown };
  example?: unknown;
}
interface Operation {
  parameters?: Parameter[];
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: { $ref?: string; example?: unknown } }> };
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { example?: unknown }> };
}

type Declared = Record<string, { content?: Record<string, { schema: unknown }> }>;
/** The routes' own declarations, with their zod schemas, by "METHOD /path". */
const declared = new Map(
  app.openAPIRegistry.definitions.flatMap((definition) =>
    definition.type === "route" ? [[`${definition.route.method.toUpperCase()} ${definition.route.path}`, definition.route.responses as Declared] as const] : [],
  ),
);

/** The routes' JSON request body schemas, by "METHOD /path". */
const requestSchemas = new Map(
  app.openAPIRegistry.definitions.flatMap((definition) => {
    const media = definition.type === "route" ? definition.route.request?.body?.content["application/json"] : undefined;
    const schema = media && "schema" in media ? media.schema : undefined;
    return definition.type === "route" && schema ? [[`${definition.route.method.toUpperCase()} ${definition.route.path}`, schema as z.ZodType] as const] : [];
  }),
);

/** What the path parameters stand for: a fresh event with a join link, an upload, a batch and a webhook endpoint. */
async function fixture() {
  const event = await createEvent();
  const upload = await startUpload(event.join_token, 1000);
  const links = await call(`/api/v1/admin/events/${event.event_id}/join-links`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } });
  const linkId = (await links.json<{ join_links: Array<{ id: string }> }>()).join_links[0]!.id;
  const batch = await call(`/api/v1/events/${event.join_token}/batches`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ device_id: "contract-device-1", files: [{ client_id: "f1", filename: "a.jpg", size: 1000, content_type: "image/jpeg" }] }),
  });
  const { batch_id, batch_key, files } = await batch.json<{ batch_id: string; batch_key: string; files: Array<{ file_id: string }> }>();
  // An endpoint of the event's (the global routes find no such global one); nothing listens on port 9.
  const webhook = await call(`/api/v1/admin/events/${event.event_id}/webhooks`, {
    method: "POST",
    headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ url: "http://127.0.0.1:9/hook", event_types: ["photo.ready"] }),
  });
  const { webhook_id } = await webhook.json<{ webhook_id: string }>();
  const claim = await call(`/api/v1/events/${event.join_token}/claims`, {
    method: "POST",
    headers: { "content-type": "application/json", "upload-key": upload.key },
    body: JSON.stringify({ upload_id: upload.id }),
  });
  const { claim_id, code } = await claim.json<{ claim_id: string; code: string }>();
  const params: Record<string, string> = {
    token: event.join_token,
    eventId: event.event_id,
    id: upload.id,
    upload: `${upload.id}.${upload.key}`,
    linkId,
    batchId: batch_id,
    fileId: files[0]!.file_id,
    photoId: crypto.randomUUID(),
    messageId: crypto.randomUUID(),
    deviceId: "contract-device-1",
    claimId: claim_id,
    tokenId: crypto.randomUUID(),
    variant: "thumb-256",
    action: "approve",
    webhookId: webhook_id,
  };
  const credentials: Record<string, Record<string, string>> = {
    adminToken: { authorization: `Bearer ${env.ADMIN_TOKEN}` },
    uploadKey: { "upload-key": upload.key },
    batchKey: { "batch-key": batch_key },
    claimCode: { "claim-code": code },
  };
  return { params, credentials };
}

const exampleOf = (document: Document, schema: { $ref?: string; example?: unknown }) =>
  schema.$ref ? document.components.schemas[schema.$ref.split("/").pop()!]!.example : schema.example;

/** The request the document describes for an operation, with its examples. */
function requestFor(document: Document, method: string, path: string, operation: Operation, context: Awaited<ReturnType<typeof fixture>>) {
  const headers: Record<string, string> = { ...context.credentials[Object.keys(operation.security?.[0] ?? {})[0] ?? ""] };
  const query = new URLSearchParams();
  for (const parameter of operation.parameters ?? []) {
    const example = parameter.example ?? parameter.schema?.example;
    if (parameter.in === "header" && example !== undefined) headers[parameter.name] = String(example);
    if (parameter.in === "query" && example !== undefined) query.set(parameter.name, String(example));
  }
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => {
    expect(context.params[name], `no fixture for {${name}}`).toBeDefined();
    return context.params[name]!;
  });
  let body: string | undefined;
  const json = operation.requestBody?.content["application/json"];
  if (json) {
    const example = exampleOf(document, json.schema);
    expect(example, `${method} ${path} has no request example`).toBeDefined();
    headers["content-type"] = "application/json";
    body = JSON.stringify(example);
  }
  return { url: `${url}${query.size ? `?${query}` : ""}`, init: { method: method.toUpperCase(), headers, body } };
}

describe("the contract", async () => {
  const document = await (await call("/api/openapi.json")).json<Document>();
  const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ path, method, operation })));

  it.each(operations.map((entry) => [`${entry.method.toUpperCase()} ${entry.path}`, entry] as const))(
    "%s answers with a status and body the document declares",
    async (name, { path, method, operation }) => {
      const { url, init } = requestFor(document, method, path, operation, await fixture());
      const response = await call(url, init);
      const responses = declared.get(name)!;
      const status = String(response.status);
      const declaration = responses[status] ?? responses[`${status[0]}XX`] ?? responses.default;
      const text = await response.text();
      expect(declaration, `${name} answered an undeclared ${status}: ${text.slice(0, 300)}`).toBeDefined();
      const schema = declaration!.content?.["application/json"]?.schema as z.ZodType | undefined;
      if (schema && text) {
        const parsed = schema.safeParse(JSON.parse(text));
        expect(parsed.success ? [] : parsed.error.issues, `${name} ${status}: ${text.slice(0, 300)}`).toEqual([]);
      }
    },
  );

  it.each(operations.filter(({ operation }) => operation.requestBody?.content["application/json"]).map((entry) => [`${entry.method.toUpperCase()} ${entry.path}`, entry] as const))(
    "%s: the request example is valid for the route's own schema",
    (name, { operation }) => {
      const example = exampleOf(document, operation.requestBody!.content["application/json"]!.schema);
      const schema = requestSchemas.get(name)!;
      const parsed = schema.safeParse(example);
      expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    },
  );
});
