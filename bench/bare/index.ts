/**
 * The bench's reference path: `PUT /<key>` streams the body into one R2 `put` (the request's
 * Content-Length gives R2 a known length) and answers 204; `GET /<key>` returns the object, so the
 * bench can check what either path stored.
 */
interface Env {
  BUCKET: R2Bucket;
}

export default {
  async fetch(request, env) {
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
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
