/**
 * Builds the npm package's dist/ (run by `prepack`, so `npm pack` and `npm publish` always ship
 * fresh output): JavaScript and .d.ts files for src/ and bin/ from tsconfig.build.json, into an
 * emptied dist/ so nothing stale ships.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
rmSync(dist, { recursive: true, force: true });
const tsc = Bun.spawnSync([join(root, "node_modules/.bin/tsc"), "-p", join(root, "tsconfig.build.json")], { cwd: root, stdout: "inherit", stderr: "inherit" });
if (tsc.exitCode !== 0) {
  console.error(`build-dist: tsc failed (exit ${tsc.exitCode})`);
  process.exit(1);
}

// `rewriteRelativeImportExtensions` turns `./x.ts` into `./x.js`, but TS 5.9 misses some dynamic
// `import("./x.ts")` calls (one after a block-scoped declaration inside an object's method), and
// leaves .d.ts files' specifiers as written. Rewrite what is left, in import position only
// (`new URL("./worker.ts", …)` is workerEntry's business), then insist nothing is.
const IMPORT_TS = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"'\n]*?)\.ts\2/g;
const left: string[] = [];
for (const file of readdirSync(dist, { recursive: true, encoding: "utf8" })) {
  if (!file.endsWith(".js") && !file.endsWith(".d.ts")) continue;
  const path = join(dist, file);
  const text = readFileSync(path, "utf8");
  const fixed = text.replace(IMPORT_TS, (_, lead: string, q: string, spec: string) => `${lead}${q}${spec}.js${q}`);
  if (fixed !== text) writeFileSync(path, fixed);
  for (const m of fixed.matchAll(IMPORT_TS)) left.push(`${file}: ${m[0]}`);
}
if (left.length) {
  console.error(`build-dist: relative .ts imports left in dist/:\n${left.join("\n")}`);
  process.exit(1);
}

// tsc copies package.json (imported by the CLI and the OpenAPI document for their version) to
// dist/package.json; keep only what they read, so the package holds one real manifest.
writeFileSync(join(dist, "package.json"), JSON.stringify({ name: pkg.name, version: pkg.version, type: "module" }, null, 2) + "\n");

// The explorer page is bundled by a Bun macro (src/server/web-bundle.ts), and Bun runs no macro
// from node_modules: ship the bundle itself, built now, and import it as a plain module.
const { webBundle } = await import("../src/server/web-bundle.ts");
const bundle = webBundle();
writeFileSync(join(dist, "src/server/web-bundle.js"), `/** The explorer page, bundled at packing time (tools/build-dist.ts). */\nexport function webBundle() {\n  return ${JSON.stringify(bundle)};\n}\n`);
const webJs = join(dist, "src/server/web.js");
const web = readFileSync(webJs, "utf8");
const plain = web.replace(/(from\s*["']\.\/web-bundle\.js["'])\s*with\s*\{\s*type:\s*["']macro["']\s*\}/, "$1");
if (plain === web) {
  console.error("build-dist: dist/src/server/web.js does not import web-bundle.js as a macro any more; update tools/build-dist.ts");
  process.exit(1);
}
writeFileSync(webJs, plain);
