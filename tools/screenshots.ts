/**
 * Regenerates the explorer's screenshots in docs/ (shown in the README) and prints the page's
 * first-load size and time to interactive: `bun tools/screenshots.ts`. Needs Chromium (Debian's
 * `chromium` package, or $RECSYS_CHROMIUM). The tests take the same shots into a temporary
 * directory, so `npm test` leaves the working tree alone.
 */
import { join } from "node:path";
import { findChromium, launch, loadedBytes, ready, screenshots, serveSample, DESKTOP } from "../test/fixtures/browser.ts";

const chromiumPath = findChromium();
if (!chromiumPath) {
  console.error("screenshots: no Chromium found: apt-get install chromium, or set RECSYS_CHROMIUM");
  process.exit(1);
}
const sample = await serveSample();
const browser = await launch(chromiumPath);
try {
  for (const file of await screenshots(browser, sample.dev, join(import.meta.dir, "..", "docs"))) console.log(`wrote ${file}`);
  // A cold load each time (a fresh context has an empty cache): median of 5.
  const times: number[] = [];
  const shown: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext({ viewport: DESKTOP });
    const page = await context.newPage();
    await page.goto(`${sample.dev}/?user=110`);
    times.push(await ready(page));
    await page.waitForSelector("#similar li.neighbor");
    shown.push(Math.round(await page.evaluate(() => (performance as any).getEntriesByName("shown:similar")[0].startTime)));
    await page.waitForLoadState("networkidle");
    bytes = (await loadedBytes(page)).total;
    await context.close();
  }
  times.sort((a, b) => a - b);
  shown.sort((a, b) => a - b);
  console.log(`first load of /?user=110: ${(bytes / 1024).toFixed(1)} KB over the wire (document, script, style, API answers)`);
  console.log(`interactive (view rendered, search and links live) after ${times[2]} ms, the ten neighbours shown after ${shown[2]} ms: medians of 5 cold loads (${times.join(", ")} / ${shown.join(", ")})`);
} finally {
  await browser.close();
  await sample.close();
}
