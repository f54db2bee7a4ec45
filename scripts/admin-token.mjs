// `npm run admin:token -- <command>`: create, list and revoke admin API tokens through the admin
// API. Talks to ADMIN_URL (default http://127.0.0.1:8787, i.e. `npm start`) as ADMIN_TOKEN (default:
// the bootstrap token in .dev.vars). Against production, set ADMIN_URL and a global admin token.
//
//   npm run admin:token -- create --name "Photographer Jo" [--event <event id>]... [--days 30]
//   npm run admin:token -- list
//   npm run admin:token -- revoke <token id>
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const base = (process.env.ADMIN_URL ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const adminToken =
  process.env.ADMIN_TOKEN ??
  (existsSync(".dev.vars") ? readFileSync(".dev.vars", "utf8").match(/^ADMIN_TOKEN=(.*)$/m)?.[1]?.trim() : undefined);
if (!adminToken) {
  console.error("No admin token: set ADMIN_TOKEN, or run `npm start` once to create .dev.vars.");
  process.exit(2);
}

async function api(method, path, body) {
  const response = await fetch(`${base}/api/v1/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    console.error(`${method} ${path}: ${response.status} ${payload.error?.code ?? ""} ${payload.error?.message ?? ""}`);
    process.exit(1);
  }
  return payload;
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string" }, event: { type: "string", multiple: true }, days: { type: "string" } },
});
const [command, id] = positionals;
if (command === "create" && values.name) {
  const created = await api("POST", "/tokens", {
    name: values.name,
    ...(values.event ? { event_ids: values.event } : {}),
    ...(values.days ? { expires_in_days: Number(values.days) } : {}),
  });
  console.log(`Created admin token ${created.id} (${created.event_ids ? `events ${created.event_ids.join(", ")}` : "global"}).`);
  console.log(`Token (shown once, keep it secret): ${created.token}`);
} else if (command === "list") {
  const { tokens } = await api("GET", "/tokens");
  for (const token of tokens) {
    const state = token.revoked_at ? "revoked" : token.expires_at && Date.parse(token.expires_at) < Date.now() ? "expired" : "active";
    console.log(`${token.id}  ${state.padEnd(7)}  ${token.name}  ${token.event_ids ? token.event_ids.join(",") : "global"}  last used ${token.last_used_at ?? "never"}`);
  }
} else if (command === "revoke" && id) {
  await api("DELETE", `/tokens/${id}`);
  console.log(`Revoked ${id}.`);
} else {
  console.error("usage: npm run admin:token -- create --name <name> [--event <id>]... [--days <n>] | list | revoke <id>");
  process.exit(2);
}
