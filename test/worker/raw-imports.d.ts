/** Vite's `?raw` imports: a file's text (test/worker/production-logs.test.ts reads wrangler.toml). */
declare module "*?raw" {
  const text: string;
  export default text;
}
