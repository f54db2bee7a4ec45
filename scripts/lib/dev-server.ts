/**
 * Runs this repo's Workers under a local `wrangler dev`, offline, for the benches and the
 * end-to-end tests. Node 22 runs this file as is (type stripping); vitest imports it too.
 *
 * A `DevStack` is one temporary directory: the bundles and one `--persist-to` state directory
 * that all its Workers share (D1, R2, Durable Objects, Queues), so a helper Worker such as
 * bench/bare can read the bucket the service wrote. (A single `wrangler dev` with two -c
 * configs would not do: only its first Worker gets a port.)
 *
 * Workers run from bundles made once at start (`wrangler deploy --dry-run`), with
 * `wrangler dev --no-bundle`: when wrangler bundles, it reloads the Worker on any change to the
 * sources, package.json or node_modules (someone's edit or `npm install`), killing requests in
 * flight and mixing two versions into one run. With --no-bundle it watches only the bundle's
 * directory, and `restart()` brings back exactly the same code. Static assets (the service's
 * web apps) are served from a copy taken at start too, so a rebuild of web/dist meanwhile (another
 * test run, `npm run build:web`) changes nothing under a running stack.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";

export const root = path.resolve(import.meta.dirname, "../..");

/**
 * Offline by design (no Request.cf download, no telemetry), and no restart on config edits. The
 * repo's own wrangler and Node 22 come first on PATH, whoever runs this.
 */
const wranglerEnv: NodeJS.ProcessEnv = {
  ...process.env,
  PATH: `${path.join(root, "node_modules/.bin")}${path.delimiter}${process.env.PATH ?? ""}`,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
};

/** One parsed line of the service's structured log (src/lib/log.ts): `msg` is "request" or "job". */
export interface LogEntry {
  msg: string;
  [field: string]: unknown;
}

export interface WorkerOptions {
  /** Names the bundle's directory and the Worker in error messages. */
  label: string;
  /** The Worker's wrangler config, relative to the repo root. */
  config: string;
  /** Any path that answers once the Worker is up; any HTTP status will do. */
  probePath: string;
  /** Variables and secrets, the only ones the Worker gets (a .dev.vars next to the config is not read). */
  vars?: Record<string, string>;
  /** The config's static assets directory, relative to the repo root: served from a copy taken at start. */
  assets?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stacks not yet stopped, for the last-resort cleanup below. */
const liveStacks = new Set<DevStack>();

// If the process ends without stop() (an uncaught error, process.exit), still leave no
// wrangler behind. The `exit` event allows only synchronous work.
process.on("exit", () => {
  for (const stack of liveStacks) stack.killNow();
});

/** Ports this process has handed out, so two Workers started at once never get the same one. */
const handedOut = new Set<number>();

/** The low end of the kernel's ephemeral port range (Linux; elsewhere a common default). */
function ephemeralLow(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
}

/**
 * A free loopback port below the ephemeral range. A port from `listen(0)` is free only until
 * someone else's `listen(0)` (workerd binds several) picks it in the gap before wrangler binds
 * it, or while a crashed server restarts on it; ports outside the range are not picked that way.
 */
async function freePort(): Promise<number> {
  const low = 10_000;
  const high = Math.max(ephemeralLow(), low + 2_000);
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (handedOut.has(port) || !(await portIsFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port between ${low} and ${high}`);
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer().once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** Runs wrangler to completion; returns its stdout. Its stderr goes to ours, for diagnosis. */
function wrangler(args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync("wrangler", args, { cwd: root, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
}

export class DevStack {
  readonly dir: string;
  readonly persistDir: string;
  /**
   * wrangler's environment for this stack. Its own dev registry: in the shared one (~/.config),
   * every `wrangler dev` on the machine (other suites' stacks, `npm start`) announces itself
   * under the same Worker name, and each one starting or stopping makes every other one
   * re-announce its bindings, flooding the last lines a failed test prints.
   */
  readonly env: NodeJS.ProcessEnv;
  private readonly servers: DevServer[] = [];

  private constructor(prefix: string) {
    this.dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.persistDir = path.join(this.dir, "state");
    this.env = { ...wranglerEnv, WRANGLER_REGISTRY_PATH: path.join(this.dir, "registry") };
    liveStacks.add(this);
  }

  static create(prefix = "dev-stack-"): DevStack {
    return new DevStack(prefix);
  }

  /** Applies the D1 migrations in migrations/ to this stack's state. */
  migrate(): void {
    // CI=1: wrangler would otherwise ask for confirmation.
    wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", this.persistDir], { ...this.env, CI: "1" });
  }

  /** Runs one SQL statement on the service's local D1 (safe while `wrangler dev` runs) and returns its rows. */
  query<Row = Record<string, unknown>>(sql: string): Row[] {
    const output = wrangler(["d1", "execute", "DB", "--local", "--persist-to", this.persistDir, "--json", "--command", sql], this.env);
    return (JSON.parse(output) as { results: Row[] }[])[0]!.results;
  }

  /** Bundles the Worker into this stack's directory and starts it; resolves once it answers. */
  async start(options: WorkerOptions): Promise<DevServer> {
    const outdir = path.join(this.dir, options.label);
    // --env "": the top-level environment (wrangler.toml also has [env.production]).
    wrangler(["deploy", "--dry-run", "-c", options.config, "--env", "", "--outdir", outdir], this.env);
    const entry = readdirSync(outdir).find((name) => name.endsWith(".js"));
    if (!entry) throw new Error(`wrangler deploy --dry-run wrote no .js bundle into ${outdir}`);
    if (options.assets) cpSync(path.join(root, options.assets), path.join(outdir, "assets"), { recursive: true });
    const server = new DevServer(this, options, path.join(outdir, entry), await freePort(), await freePort());
    this.servers.push(server);
    await server.launch();
    return server;
  }

  /** Stops every Worker and removes the directory; the stack cannot be used afterwards. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5 });
    liveStacks.delete(this);
  }

  /** Synchronous last resort (the process is exiting): SIGKILL everything, remove the directory. */
  killNow(): void {
    for (const server of this.servers) server.signal("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
    liveStacks.delete(this);
  }
}

/** One `wrangler dev` on a fixed port of its own. Log lines accumulate across restarts. */
export class DevServer {
  readonly origin: string;
  /** The service's JSON log lines, in arrival order. */
  readonly logs: LogEntry[] = [];
  /** The last lines of wrangler's output (stdout and stderr), for error messages. */
  readonly recent: string[] = [];
  readonly options: WorkerOptions;
  readonly port: number;
  private readonly stack: DevStack;
  private readonly bundle: string;
  private readonly inspectorPort: number;
  private readonly envFile: string;
  private child: ChildProcess | null = null;
  private exited: Promise<unknown> = Promise.resolve();

  // Plain fields, not constructor parameter properties: Node's type stripping cannot run those.
  constructor(stack: DevStack, options: WorkerOptions, bundle: string, port: number, inspectorPort: number) {
    this.stack = stack;
    this.options = options;
    this.bundle = bundle;
    this.port = port;
    this.inspectorPort = inspectorPort;
    this.origin = `http://127.0.0.1:${port}`;
    // An --env-file instead of .dev.vars (the developer's, for `npm start`) keeps runs hermetic,
    // and keeps secrets off the command line.
    this.envFile = path.join(path.dirname(bundle), "worker.env");
    writeFileSync(this.envFile, Object.entries(options.vars ?? {}).map(([name, value]) => `${name}=${JSON.stringify(value)}\n`).join(""));
  }

  get label(): string {
    return this.options.label;
  }

  /** Spawns `wrangler dev` on the bundle and waits until it answers. */
  async launch(): Promise<void> {
    // --assets replaces only the config's assets directory; its other settings (SPA fallback, which paths reach the Worker) stay.
    const assets = this.options.assets ? ["--assets", path.join(path.dirname(this.bundle), "assets")] : [];
    const child = spawn(
      "wrangler",
      ["dev", this.bundle, "--no-bundle", "-c", this.options.config, ...assets, "--env-file", this.envFile, "--ip", "127.0.0.1", "--port", String(this.port),
        "--inspector-port", String(this.inspectorPort), "--persist-to", this.stack.persistDir, "--show-interactive-dev-session=false"],
      // Detached: it leads its own process group, so one signal also reaches its workerd.
      { cwd: root, env: this.stack.env, detached: true, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", resolve));
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on("line", (line) => this.take(line));
    }
    await this.waitUntilUp();
  }

  private take(line: string): void {
    this.recent.push(line);
    if (this.recent.length > 60) this.recent.shift();
    if (!line.startsWith("{")) return;
    try {
      const entry = JSON.parse(line) as LogEntry;
      if (typeof entry.msg === "string") this.logs.push(entry);
    } catch {} // not a log line of ours
  }

  /** Waits until the probe path gets any HTTP answer; gives up if wrangler exits. */
  private async waitUntilUp(): Promise<void> {
    let gone = false;
    void this.exited.then(() => (gone = true));
    for (let i = 0; i < 240 && !gone; i++) {
      try {
        const response = await fetch(this.origin + this.options.probePath);
        await response.arrayBuffer();
        return;
      } catch {}
      await sleep(500);
    }
    throw new Error(`${this.label} (wrangler dev) did not come up; its last output:\n${this.recent.join("\n")}`);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.child?.pid) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {} // already gone
  }

  /** SIGKILLs the process group (a crash: nothing gets to clean up) and waits until the port is free. */
  async kill(): Promise<void> {
    this.signal("SIGKILL");
    await this.exited;
    // The group's workerd may outlive wrangler by a moment; it holds the port until it is gone.
    for (let i = 0; !(await portIsFree(this.port)); i++) {
      if (i === 100) throw new Error(`${this.label}: port ${this.port} still taken 10 s after SIGKILL`);
      await sleep(100);
    }
    this.child = null;
  }

  /** Crashes the Worker and starts it again on the same port, bundle and state. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Asks wrangler to stop (SIGTERM), then SIGKILLs the group if it takes longer than 5 s. */
  async stop(): Promise<void> {
    if (!this.child) return;
    this.signal("SIGTERM");
    await Promise.race([this.exited, sleep(5000)]);
    this.signal("SIGKILL");
    await this.exited;
    this.child = null;
  }
}

export interface CreatedEvent {
  event_id: string;
  join_token: string;
  upload_url: string;
  [field: string]: unknown;
}

/**
 * Builds the web apps (scripts/build-web.mjs) unless a build is there: wrangler.toml serves
 * web/dist as the Worker's static assets and refuses to start without it. `npm test` and the
 * browser tests always build first; a bench needs only some build.
 */
export function ensureWebBuilt(): void {
  if (existsSync(path.join(root, "web/dist/index.html")) && existsSync(path.join(root, "web/dist/admin/index.html"))) return;
  execFileSync(process.execPath, [path.join(root, "scripts/build-web.mjs")], { cwd: root, env: wranglerEnv, stdio: ["ignore", "inherit", "inherit"] });
}

/** The photo-upload service (wrangler.toml) on a migrated state, with random secrets. */
export class Service {
  readonly server: DevServer;
  readonly adminToken: string;

  private constructor(server: DevServer, adminToken: string) {
    this.server = server;
    this.adminToken = adminToken;
  }

  /**
   * `vars` override wrangler.toml's [vars], e.g. DASHBOARD_ORIGINS for a dashboard on another
   * origin; `config` replaces wrangler.toml (the benches' counted build, bench/counted/).
   */
  static async start(stack: DevStack, vars: Record<string, string> = {}, config = "wrangler.toml"): Promise<Service> {
    ensureWebBuilt();
    stack.migrate();
    const adminToken = randomBytes(24).toString("hex");
    const server = await stack.start({
      label: "service",
      config,
      probePath: "/api/v1/health",
      vars: { ...vars, ADMIN_TOKEN: adminToken, SIGNING_SECRET: randomBytes(32).toString("hex") },
      assets: "web/dist",
    });
    return new Service(server, adminToken);
  }

  get origin(): string {
    return this.server.origin;
  }

  /** Creates an event through the admin API; `settings` are its body's fields (README, admin API). */
  async createEvent(settings: Record<string, unknown> = {}): Promise<CreatedEvent> {
    const response = await fetch(`${this.origin}/api/v1/admin/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "dev-server event", ...settings }),
    });
    const body = await response.text();
    if (response.status !== 201) throw new Error(`create event: expected 201, got ${response.status} ${body.slice(0, 500)}`);
    return JSON.parse(body) as CreatedEvent;
  }
}

/** bench/bare: `GET /<key>` reads any object of the service's bucket (same persist dir, same bucket name). */
export function startBareWorker(stack: DevStack): Promise<DevServer> {
  return stack.start({ label: "bare", config: "bench/bare/wrangler.toml", probePath: "/__up" });
}
