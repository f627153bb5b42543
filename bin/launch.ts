#!/usr/bin/env node
/**
 * The npm package's `recsys` command. It runs under Node too (npm links it into
 * node_modules/.bin, and `#!/usr/bin/env bun` fails obscurely where Bun is missing): it starts the
 * CLI (./recsys.js beside it, resolved through any symlink) under Bun with every argument and
 * passes back its exit code, or, without Bun on the PATH, prints one clear sentence and exits 1.
 * Plain Node APIs only, so it loads anywhere.
 */
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { REQUIRES_BUN } from "../src/requires-bun.ts";

const here = realpathSync(fileURLToPath(import.meta.url));
// Compiled (dist/bin/launch.js) the CLI is recsys.js; from a checkout (bun bin/launch.ts) recsys.ts.
const cli = join(dirname(here), here.endsWith(".ts") ? "recsys.ts" : "recsys.js");
const bun = process.versions.bun ? process.execPath : "bun";

function requiresBun(): never {
  process.stderr.write(`${REQUIRES_BUN}\n`);
  process.exit(1);
}

const child = spawn(bun, [cli, ...process.argv.slice(2)], { stdio: "inherit" });
child.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "ENOENT") requiresBun();
  process.stderr.write(`recsys: could not start ${bun}: ${e.message}\n`);
  process.exit(1);
});
// A terminal's Ctrl-C reaches the CLI directly (same process group): the launcher only waits, so
// `recsys serve` sees one SIGINT and drains. Signals sent to the launcher alone are passed on.
process.on("SIGINT", () => {});
for (const signal of ["SIGTERM", "SIGHUP"] as const) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
  if (signal) {
    // Die of the same signal, as the shell expects (exit status 128 + n).
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
