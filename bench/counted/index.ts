/**
 * Bench-only entry (never deployed): the real service, with every billed binding wrapped so the
 * benches can count what an upload costs. The Worker and its Durable Objects get the same
 * wrapped env; counters are module globals, shared because `wrangler dev` runs the Worker and its
 * Durable Objects in one isolate. `GET /api/__bench/ops` reads them, `DELETE` zeroes them.
 *
 * Counted: Worker invocations (HTTP and queue batches), Durable Object requests (every call on a
 * stub, and alarms), R2 operations by name, D1 rows read and written (from D1's own `meta`;
 * drizzle reads selects through `raw()`, which hides `meta`, so those count the rows returned:
 * a lower bound), the upload sessions' SQLite rows read and written, queue messages sent and
 * delivered, Images transformations. Photo jobs can be held back (see `heldJobs`).
 */
import worker, { EventHub as RealEventHub, UploadSession as RealUploadSession } from "../../src/index";
import type { PhotoJob } from "../../src/core/completion";

const fresh = () => ({
  workerRequests: 0,
  queueInvocations: 0,
  durableObjectRequests: 0,
  durableObjectAlarms: 0,
  r2: {} as Record<string, number>,
  d1: { queries: 0, rowsRead: 0, rowsWritten: 0, rowsReadFromRowsReturned: 0 },
  /** The upload sessions' own SQLite storage, billed like D1 rows. */
  durableObjectSql: { rowsRead: 0, rowsWritten: 0 },
  queue: { sent: 0, delivered: 0 },
  imagesTransformations: 0,
});
let ops = fresh();

const countR2 = (operation: string) => void (ops.r2[operation] = (ops.r2[operation] ?? 0) + 1);

/** A proxy of `target` whose method calls go through `on(name, args, call)`; `call()` makes the real call. */
function intercept<T extends object>(target: T, on: (name: string, args: unknown[], call: () => unknown) => unknown): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object);
      if (typeof value !== "function" || typeof property !== "string" || property === "then") return value;
      // Reflect.apply: on a Durable Object stub, `value.apply` would name a remote method.
      return (...args: unknown[]) => on(property, args, () => Reflect.apply(value, object, args));
    },
  });
}

const R2_BUCKET_OPERATIONS = new Set(["head", "get", "put", "list", "delete", "createMultipartUpload"]);
const R2_MULTIPART_OPERATIONS: Record<string, string> = { uploadPart: "uploadPart", complete: "completeMultipartUpload", abort: "abortMultipartUpload" };

function countedMultipart(upload: R2MultipartUpload): R2MultipartUpload {
  return intercept(upload, (name, _args, call) => {
    if (R2_MULTIPART_OPERATIONS[name]) countR2(R2_MULTIPART_OPERATIONS[name]);
    return call();
  });
}

function countedBucket(bucket: R2Bucket): R2Bucket {
  return intercept(bucket, (name, _args, call) => {
    if (R2_BUCKET_OPERATIONS.has(name)) countR2(name);
    const result = call();
    if (name === "createMultipartUpload") return (result as Promise<R2MultipartUpload>).then(countedMultipart);
    // Resuming names an upload already made: no operation of its own.
    if (name === "resumeMultipartUpload") return countedMultipart(result as R2MultipartUpload);
    return result;
  });
}

function countMeta(result: D1Result | D1ExecResult | undefined): void {
  ops.d1.queries += 1;
  const meta = (result as D1Result | undefined)?.meta;
  ops.d1.rowsRead += meta?.rows_read ?? 0;
  ops.d1.rowsWritten += meta?.rows_written ?? 0;
}

/** Counted statements, and the real ones they wrap (batch() takes only real statements). */
const realStatements = new WeakMap<object, D1PreparedStatement>();

function countedStatement(statement: D1PreparedStatement): D1PreparedStatement {
  const counted = intercept(statement, (name, _args, call) => {
    switch (name) {
      case "bind":
        return countedStatement(call() as D1PreparedStatement);
      case "all":
      case "run":
        return (call() as Promise<D1Result>).then((result) => (countMeta(result), result));
      case "first":
        return (call() as Promise<unknown>).then((row) => {
          ops.d1.queries += 1;
          ops.d1.rowsRead += row === null ? 0 : 1;
          ops.d1.rowsReadFromRowsReturned += row === null ? 0 : 1;
          return row;
        });
      case "raw":
        return (call() as Promise<unknown[]>).then((rows) => {
          ops.d1.queries += 1;
          ops.d1.rowsRead += rows.length;
          ops.d1.rowsReadFromRowsReturned += rows.length;
          return rows;
        });
      default:
        return call();
    }
  });
  realStatements.set(counted, statement);
  return counted;
}

function countedD1(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, property) {
      if (property === "prepare") return (query: string) => countedStatement(target.prepare(query));
      if (property === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements.map((statement) => realStatements.get(statement) ?? statement));
          results.forEach(countMeta);
          return results;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function countedNamespace<T extends object>(namespace: T): T {
  const countedStub = (stub: object) =>
    intercept(stub, (_name, _args, call) => {
      ops.durableObjectRequests += 1;
      return call();
    });
  return intercept(namespace, (name, _args, call) => (name === "get" || name === "getByName" ? countedStub(call() as object) : call()));
}

/**
 * Photo jobs held back while `npm run load` measures uploads alone: locally the queue consumer runs
 * in the Worker's own isolate, on the one thread that also serves the uploads, where production
 * gives it isolates of its own. `POST /api/__bench/queue/hold` holds, `…/release` sends them.
 */
let heldJobs: Array<() => Promise<unknown>> | null = null;

function countedQueue<T>(queue: Queue<T>): Queue<T> {
  return intercept(queue, (name, args, call) => {
    if (name === "send") ops.queue.sent += 1;
    if (name === "sendBatch") ops.queue.sent += [...(args[0] as Iterable<unknown>)].length;
    if (heldJobs && (name === "send" || name === "sendBatch")) {
      heldJobs.push(call as () => Promise<unknown>);
      return Promise.resolve();
    }
    return call();
  });
}

function countedImages(images: ImagesBinding): ImagesBinding {
  return intercept(images, (name, _args, call) => {
    if (name === "input") ops.imagesTransformations += 1;
    return call();
  });
}

const wrapped = new WeakMap<Env, Env>();

function countedEnv(env: Env): Env {
  const known = wrapped.get(env);
  if (known) return known;
  const counted: Env = {
    ...env,
    PHOTOS: countedBucket(env.PHOTOS),
    DB: countedD1(env.DB),
    UPLOAD_SESSIONS: countedNamespace(env.UPLOAD_SESSIONS),
    EVENT_HUBS: countedNamespace(env.EVENT_HUBS),
    PHOTO_QUEUE: countedQueue(env.PHOTO_QUEUE),
    IMAGES: countedImages(env.IMAGES),
  };
  wrapped.set(env, counted);
  return counted;
}

/**
 * Counts the session's `storage.sql.exec` (a cursor knows its rows once read, which the session
 * does at once). Patched on the object itself: Durable Object classes take only the real state.
 */
function countSql(ctx: DurableObjectState): void {
  const sql = ctx.storage.sql;
  const exec = sql.exec;
  Object.defineProperty(sql, "exec", {
    value: (...args: unknown[]) => {
      const cursor = Reflect.apply(exec, sql, args) as SqlStorageCursor<Record<string, SqlStorageValue>>;
      queueMicrotask(() => {
        ops.durableObjectSql.rowsRead += cursor.rowsRead;
        ops.durableObjectSql.rowsWritten += cursor.rowsWritten;
      });
      return cursor;
    },
  });
}

// Exported under the names the service's wrangler.toml binds.
export class UploadSession extends RealUploadSession {
  constructor(ctx: DurableObjectState, env: Env) {
    countSql(ctx);
    super(ctx, countedEnv(env));
  }

  override async alarm(): Promise<void> {
    ops.durableObjectAlarms += 1;
    return super.alarm();
  }
}

export class EventHub extends RealEventHub {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, countedEnv(env));
  }
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/api/__bench/ops") {
      if (request.method === "DELETE") ops = fresh();
      return Response.json(ops);
    }
    if (pathname === "/api/__bench/queue/hold" && request.method === "POST") {
      heldJobs ??= [];
      return Response.json({ held: heldJobs.length });
    }
    if (pathname === "/api/__bench/queue/release" && request.method === "POST") {
      const sends = heldJobs ?? [];
      heldJobs = null;
      await Promise.all(sends.map((send) => send()));
      return Response.json({ released: sends.length });
    }
    ops.workerRequests += 1;
    return worker.fetch(request, countedEnv(env), ctx);
  },
  async queue(batch, env, ctx) {
    ops.queueInvocations += 1;
    ops.queue.delivered += batch.messages.length;
    return worker.queue(batch, countedEnv(env));
  },
  async scheduled(controller, env, ctx) {
    ops.workerRequests += 1;
    return worker.scheduled(controller, countedEnv(env), ctx);
  },
} satisfies ExportedHandler<Env, PhotoJob>;
