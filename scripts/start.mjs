// `npm start`: builds the web apps, runs the service locally on embedded defaults — local D1
// (migrated), R2, Durable Objects, Queues and cron under `wrangler dev`, serving the apps as static
// assets — then creates a demo event and prints its join link, the dashboard's address and the
// local admin token. Extra arguments go to `wrangler dev`.
import { spawn, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";

const port = process.env.PORT ?? "8787";
// Offline by design: no Request.cf download, no telemetry.
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";
const origin = `http://127.0.0.1:${port}`;

if (!existsSync(".dev.vars")) {
  const token = randomBytes(32).toString("base64url");
  writeFileSync(".dev.vars", readFileSync(".dev.vars.example", "utf8").replace(/^ADMIN_TOKEN=.*$/m, `ADMIN_TOKEN=${token}`));
  console.log("Created .dev.vars with a fresh local admin token.");
}
// Every secret wrangler.toml requires must be in .dev.vars; one added since the file was made
// (an older checkout's .dev.vars) gets a fresh random value.
const requiredSecrets = readFileSync("wrangler.toml", "utf8").match(/^\[secrets\][^[]*?^required\s*=\s*\[([^\]]*)\]/ms)?.[1]?.match(/"[^"]+"/g) ?? [];
for (const name of requiredSecrets.map((quoted) => quoted.slice(1, -1))) {
  const vars = readFileSync(".dev.vars", "utf8");
  if (new RegExp(`^${name}=`, "m").test(vars)) continue;
  appendFileSync(".dev.vars", `${vars.endsWith("\n") ? "" : "\n"}${name}=${randomBytes(32).toString("base64url")}\n`);
  console.log(`Added a fresh local ${name} to .dev.vars.`);
}
const adminToken = readFileSync(".dev.vars", "utf8").match(/^ADMIN_TOKEN=(.*)$/m)?.[1]?.trim();

execFileSync(process.execPath, ["scripts/build-web.mjs"], { stdio: "inherit" });

execFileSync("wrangler", ["d1", "migrations", "apply", "DB", "--local"], { stdio: "inherit", env: { ...process.env, CI: "1" } });

const wrangler = spawn("wrangler", ["dev", "--port", port, ...process.argv.slice(2)], { stdio: "inherit" });
const stop = () => wrangler.kill("SIGINT");
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
wrangler.on("exit", (code) => process.exit(code ?? 0));

async function waitUntilUp() {
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${origin}/api/v1/health`)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`wrangler dev did not answer on ${origin}`);
}

async function demoEvent() {
  const saved = ".wrangler/demo-event.json";
  if (existsSync(saved)) return JSON.parse(readFileSync(saved, "utf8"));
  const response = await fetch(`${origin}/api/v1/admin/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Demo wedding" }),
  });
  if (response.status !== 201) throw new Error(`creating the demo event failed: ${response.status} ${await response.text()}`);
  const event = await response.json();
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(saved, JSON.stringify(event, null, 2));
  return event;
}

await waitUntilUp();
const event = await demoEvent();
console.log(`
  Edge photo uploads is running at ${origin}
  Demo event:        ${event.name} (${event.event_id})
  Guest join link:   ${origin}/join/${event.join_token}
  Dashboard:         ${origin}/admin/   (sign in with the admin token below)
  Guest upload URL:  ${origin}/api/v1/events/${event.join_token}/uploads
  tus endpoint:      ${origin}/api/v1/events/${event.join_token}/tus/
  Admin token:       ${adminToken}   (Authorization: Bearer <token>, kept in .dev.vars)
  Run the sweeper:   curl '${origin}/cdn-cgi/local/scheduled'
`);
