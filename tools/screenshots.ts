/**
 * Regenerates the explorer's screenshots in docs/ (shown in the README): `bun tools/screenshots.ts`
 * (the page's load figures: bench/explorer.ts). Needs Chromium (Debian's
 * `chromium` package, or $RECSYS_CHROMIUM). The tests take the same shots into a temporary
 * directory, so `npm test` leaves the working tree alone.
 */
import { join } from "node:path";
import { findChromium, launch, screenshots, serveSample } from "../test/fixtures/browser.ts";

const chromiumPath = findChromium();
if (!chromiumPath) {
  console.error("screenshots: no Chromium found: apt-get install chromium, or set RECSYS_CHROMIUM");
  process.exit(1);
}
const sample = await serveSample();
const browser = await launch(chromiumPath);
try {
  for (const file of await screenshots(browser, sample.dev, join(import.meta.dir, "..", "docs"))) console.log(`wrote ${file}`);
} finally {
  await browser.close();
  await sample.close();
}
