// The vitest reporter `npm test` shows on screen: one line per test file, then each failed test
// with its error and the console output it produced. Everything else a suite prints (vitest's
// default reporter, workerd's and wrangler's output, the expected noise of connections the tests
// cut on purpose) goes to the suite's log file, which scripts/test.sh names.
//
// It writes to file descriptor 3 when the shell opened one (scripts/test.sh: `3>&1 >log 2>&1`),
// else to standard output.
import { fstatSync, writeSync } from "node:fs";
import path from "node:path";

const MAX_LOG_LINES = 80;
const MAX_STACK_LINES = 12;

function outputFd() {
  try {
    fstatSync(3);
    return 3;
  } catch {
    return 1;
  }
}

export default class QuietReporter {
  fd = outputFd();
  /** Console output per test id, kept only to show it when that test fails. */
  logs = new Map();
  root = process.cwd();

  write(text) {
    writeSync(this.fd, `${text}\n`);
  }

  onInit(vitest) {
    this.root = vitest.config.root;
  }

  onUserConsoleLog(log) {
    const key = log.taskId ?? "";
    const lines = this.logs.get(key) ?? [];
    lines.push(...log.content.replace(/\n$/, "").split("\n"));
    // The newest lines are the ones that explain a failure.
    if (lines.length > MAX_LOG_LINES * 2) lines.splice(0, lines.length - MAX_LOG_LINES);
    this.logs.set(key, lines);
  }

  onTestModuleEnd(module) {
    const tests = [...module.children.allTests()];
    const failed = tests.filter((test) => test.result().state === "failed").length;
    const passed = tests.filter((test) => test.result().state === "passed").length;
    const broken = module.errors().length > 0;
    const mark = failed || broken ? "✗" : "✓";
    const seconds = (module.diagnostic().duration / 1000).toFixed(1);
    this.write(`  ${mark} ${this.relative(module.moduleId)}  ${passed} passed${failed ? `, ${failed} failed` : ""}${broken ? ", did not run" : ""} (${seconds} s)`);
  }

  onTestRunEnd(modules, unhandledErrors) {
    for (const module of modules) {
      for (const error of module.errors()) this.failure(`${this.relative(module.moduleId)} (the file itself)`, [error], []);
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== "failed") continue;
        this.failure(`${this.relative(module.moduleId)} › ${test.fullName}`, result.errors, this.logs.get(test.id) ?? []);
      }
    }
    for (const error of unhandledErrors) this.failure("unhandled error", [error], []);
  }

  failure(title, errors, logs) {
    this.write(`\n  FAILED ${title}`);
    for (const error of errors) {
      this.write(indent(`${error.name ?? "Error"}: ${error.message ?? String(error)}`));
      const stack = (error.stack ?? "").split("\n").filter((line) => line.trim().startsWith("at ") && !/node_modules|<anonymous>/.test(line));
      if (stack.length) this.write(indent(stack.slice(0, MAX_STACK_LINES).join("\n")));
    }
    if (logs.length) {
      this.write("    its console output (last lines):");
      this.write(indent(logs.slice(-MAX_LOG_LINES).join("\n"), 6));
    }
  }

  relative(file) {
    return path.relative(this.root, file);
  }
}

const indent = (text, spaces = 4) =>
  text
    .split("\n")
    .map((line) => " ".repeat(spaces) + line)
    .join("\n");
