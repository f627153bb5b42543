/**
 * The explorer page's first load in Chromium (Debian's `chromium`, or $RECSYS_CHROMIUM), on the
 * bundled sample's learner 110, each load in a fresh browser context (cold cache), medians of
 * --loads runs:
 *   - baseline: a cold navigation to /healthz (one small JSON answer through the same browser and
 *     server: what any page costs before its own work),
 *   - interactive: the view rendered, search, links and switches live (the page's `data-ready`),
 *   - neighbours shown: the ten similar learners on screen (the page's `shown:similar` mark),
 *   - bytes over the wire for the whole first load (document, script, style, API answers).
 * Issue 12's goals: under 1 s to interactive, under 300 KB.
 *
 *   bun bench/explorer.ts [--loads 9]
 */
import { parseArgs } from "node:util";
import { DESKTOP, findChromium, launch, loadedBytes, ready, serveSample } from "../test/fixtures/browser.ts";
import { median } from "./lib.ts";

/** The page's global, as the callbacks run in the browser see it (the project's types have no DOM). */
declare const performance: any;

const { values } = parseArgs({ options: { loads: { type: "string", default: "9" } } });
const loads = Number(values.loads);
const chromiumPath = findChromium();
if (!chromiumPath) {
  console.error("bench/explorer.ts: no Chromium found: apt-get install chromium, or set RECSYS_CHROMIUM");
  process.exit(1);
}
const sample = await serveSample();
const browser = await launch(chromiumPath);
try {
  const baseline: number[] = [];
  const interactive: number[] = [];
  const shown: number[] = [];
  let bytes = 0;
  // One warm-up load each: the models are loaded on the first request that needs them.
  for (let i = 0; i <= loads; i++) {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.goto(`${sample.dev}/healthz`);
    const health = await page.evaluate(() => (performance.getEntriesByType("navigation")[0] as { responseEnd: number }).responseEnd);
    await page.goto(`${sample.dev}/?user=110`);
    const ms = await ready(page);
    await page.waitForSelector("#similar li.neighbor");
    const neighbours = await page.evaluate(() => performance.getEntriesByName("shown:similar")[0].startTime as number);
    await page.waitForSelector("#compare .overlap");
    await page.waitForLoadState("networkidle");
    bytes = (await loadedBytes(page)).total;
    await context.close();
    if (i === 0) continue;
    baseline.push(health);
    interactive.push(ms);
    shown.push(neighbours);
  }
  const f = (xs: number[]) => `${median(xs).toFixed(0)} ms`;
  console.log(`explorer first load, learner 110, ${loads} cold loads (medians):`);
  console.log(`  baseline: /healthz navigation   ${f(baseline)}`);
  console.log(`  page interactive                ${f(interactive)}`);
  console.log(`  ten neighbours shown            ${f(shown)}`);
  console.log(`  bytes over the wire             ${(bytes / 1024).toFixed(1)} KB`);
} finally {
  await browser.close();
  await sample.close();
}
