/**
 * The bench's reference path: `PUT /<key>` streams the body into one R2 `put` (the request's
 * Content-Length gives R2 a known length) and answers 204; `GET /<key>` returns the object, so the
 * bench can check what either path stored; `GET /?prefix=` lists keys (tests: no staging left behind).
 * `POST /__create` is the least an upload session's create can be: one D1 insert, then one new
 * SQLite Durable Object written once.
 */
import { DurableObject } from "cloudflare:workers";

interface Env {
  BUCKET: R2Bucket;
  DB: D1Database;
  SESSIONS: DurableObjectNamespace<BareSession>;
}

export class BareSession extends DurableObject<Env> {
  init(id: string, at: number): void {
    this.ctx.storage.sql.exec("create table if not exists session (id text primary key, at integer)");
    this.ctx.storage.sql.exec("insert into session values (?, ?)", id, at);
  }
}

let tableMade: Promise<unknown> | undefined;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/__create" && request.method === "POST") {
      tableMade ??= env.DB.prepare("create table if not exists sessions (id text primary key, at integer)").run();
      await tableMade;
      const id = crypto.randomUUID();
      const at = Date.now();
      if (url.searchParams.get("only") !== "do") await env.DB.prepare("insert into sessions values (?, ?)").bind(id, at).run();
      if (url.searchParams.get("only") !== "d1") await env.SESSIONS.get(env.SESSIONS.idFromName(id)).init(id, at);
      return Response.json({ id }, { status: 201 });
    }
    const key = decodeURIComponent(url.pathname.slice(1));
    if (!key && request.method === "GET" && url.searchParams.has("prefix")) {
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const listing = await env.BUCKET.list({ prefix: url.searchParams.get("prefix")!, cursor });
        keys.push(...listing.objects.map((object) => object.key));
        cursor = listing.truncated ? listing.cursor : undefined;
      } while (cursor);
      return Response.json(keys);
    }
    if (!key) return new Response("key required", { status: 400 });
    if (request.method === "PUT") {
      if (!request.body) return new Response("body required", { status: 400 });
      await env.BUCKET.put(key, request.body);
      return new Response(null, { status: 204 });
    }
    if (request.method === "GET") {
      const object = await env.BUCKET.get(key);
      if (!object) return new Response("not found", { status: 404 });
      return new Response(object.body, { headers: { "content-length": String(object.size) } });
    }
    return new Response("method not allowed", { status: 405, headers: { allow: "GET, PUT" } });
  },
} satisfies ExportedHandler<Env>;
