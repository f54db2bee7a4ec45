/**
 * The bench's reference path: `PUT /<key>` streams the body into one R2 `put` (the request's
 * Content-Length gives R2 a known length) and answers 204; `GET /<key>` returns the object, so the
 * bench can check what either path stored; `GET /?prefix=` lists keys (tests: no staging left behind).
 */
interface Env {
  BUCKET: R2Bucket;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
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
