/**
 * The explorer page's files (src/web/), bundled and minified: a Bun macro (see web.ts), so the
 * bundle is built when the server's source is transpiled. `bun build --compile` then carries it
 * inside the executable; `bun bin/recsys.ts serve` builds it on start. It calls the `bun build`
 * CLI because a macro may not call Bun.build (the bundler waits on the macro).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface WebBundle {
  html: string;
  js: string;
  css: string;
}

export function webBundle(): WebBundle {
  const dir = join(import.meta.dir, "..", "web");
  // BUN_BE_BUN: a compiled recsys executable running this would otherwise be itself, not bun.
  const built = Bun.spawnSync([process.execPath, "build", join(dir, "app.ts"), "--target=browser", "--format=esm", "--minify"], { env: { ...process.env, BUN_BE_BUN: "1" }, stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`bundling the explorer page failed: ${built.stderr.toString()}`);
  return { html: readFileSync(join(dir, "index.html"), "utf8"), js: built.stdout.toString(), css: readFileSync(join(dir, "style.css"), "utf8") };
}
