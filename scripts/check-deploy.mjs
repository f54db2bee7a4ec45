// `npm run deploy:check` (and CI): bundles the production environment exactly as
// `wrangler deploy --env production` would, without an account (--dry-run), and prints the
// Worker's size against Cloudflare's limits. Fails if wrangler refuses the config or the bundle
// is over the paid plan's limit.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const LIMITS_KIB = { free: 3 * 1024, paid: 10 * 1024 }; // gzip, per Worker

const outdir = mkdtempSync(path.join(tmpdir(), "deploy-check-"));
try {
  const output = execFileSync("wrangler", ["deploy", "--dry-run", "--env", "production", "--outdir", outdir], {
    encoding: "utf8",
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const match = output.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
  if (!match) {
    console.log(output);
    throw new Error("wrangler did not report the bundle size");
  }
  const [raw, gzip] = [Number(match[1]), Number(match[2])];
  const percent = (limit) => `${((gzip / limit) * 100).toFixed(0)} %`;
  console.log(
    `Worker bundle (production): ${raw.toFixed(0)} KiB, ${gzip.toFixed(0)} KiB gzip — ` +
      `${percent(LIMITS_KIB.free)} of the free plan's ${LIMITS_KIB.free / 1024} MiB, ${percent(LIMITS_KIB.paid)} of the paid plan's ${LIMITS_KIB.paid / 1024} MiB`,
  );
  if (gzip > LIMITS_KIB.paid) process.exit(1);
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
