/** Vite's `?raw` imports: a file's text (test/worker/production-logs.test.ts reads wrangler.toml). */
declare module "*?raw" {
  const text: string;
  export default text;
}

/** Vite's `?inline` imports: a file as a base64 data URL (test/fixtures/videos.ts reads the video fixtures). */
declare module "*?inline" {
  const url: string;
  export default url;
}
