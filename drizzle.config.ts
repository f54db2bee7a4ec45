import { defineConfig } from "drizzle-kit";

// Generates flat NNNN_name.sql files, which both `wrangler d1 migrations apply` and the test
// plugin's readD1Migrations read. Applying is wrangler's job, never drizzle-kit's.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
