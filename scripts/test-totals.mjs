// Sums vitest JSON reports into the one line CI reads, printed last: "N passed, N failed".
// Each report also gets a line of its own above it.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of process.argv.slice(2)) {
  const suite = path.basename(file, ".json");
  if (!existsSync(file)) {
    console.log(`${suite}: missing test report ${file}: that suite did not run`);
    failed++;
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  // A file that failed without a failing test (it did not load, or a beforeAll threw and its
  // tests were skipped) did not pass either.
  const brokenFiles = report.testResults.filter(
    (result) => result.status === "failed" && !result.assertionResults.some((test) => test.status === "failed"),
  ).length;
  const counts = {
    passed: report.numPassedTests,
    failed: report.numFailedTests + brokenFiles,
    skipped: report.numPendingTests + report.numTodoTests,
  };
  console.log(`${suite}: ${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ""}`);
  passed += counts.passed;
  failed += counts.failed;
  skipped += counts.skipped;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
