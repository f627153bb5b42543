/**
 * The explorer page (issue 12) in a real browser, Debian's `chromium` through playwright-core, on
 * the bundled sample: search, neighbours as the API answers them, explanations that add up,
 * click-through, Back/Forward, the method switch, the run view, the fold-in form, prod's token
 * prompt, the phone layout, first-load size, and no console errors anywhere. Skipped, saying why,
 * when no Chromium is installed (tools/setup-ci.sh installs it).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { BPR_EPOCHS, DESKTOP, findChromium, launch, loadedBytes, PHONE, ready, screenshots, serveSample, TOKEN, type Sample } from "./fixtures/browser.ts";

/** The page's global, as the callbacks run in the browser see it (the project's types have no DOM). */
declare const document: any;
declare const getComputedStyle: any;

const chromiumPath = findChromium();
const skip = chromiumPath === null;
if (skip) console.warn("test/explorer.test.ts: skipped: no Chromium found (apt-get install chromium, or set RECSYS_CHROMIUM)");
const title = (what: string) => (skip ? `${what} (skipped: no Chromium found; apt-get install chromium)` : what);

let sample: Sample;
let browser: Browser;
/** Console errors and uncaught exceptions of every page opened. */
const problems: string[] = [];

beforeAll(async () => {
  if (skip) return;
  [sample, browser] = await Promise.all([serveSample(), launch(chromiumPath!)]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sample?.close();
});

async function open(path: string, viewport = DESKTOP, base = sample.dev): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on("console", (m) => m.type() === "error" && problems.push(`${path}: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`${path}: ${e.message}`));
  await page.goto(base + path);
  await ready(page);
  return page;
}

async function apiJson(path: string): Promise<any> {
  return (await fetch(sample.dev + path)).json();
}

/** The neighbours the page shows: [handle, score as shown]. */
async function shown(page: Page, scope = "#similar"): Promise<[string, number][]> {
  await page.waitForSelector(`${scope} li.neighbor`);
  return page.$$eval(`${scope} li.neighbor`, (lis) => lis.map((li) => [li.querySelector("a.user")!.textContent!, Number(li.querySelector(".score")!.textContent)] as [string, number]));
}

/** Per test: a few page loads, each well under a second on an idle machine. */
const T = 30_000;

const asShown = (list: { similar: string; score: number }[]): [string, number][] => list.map((n) => [n.similar, n.score]);

describe.skipIf(skip)("the explorer page", () => {
  test(title("search 110 with the keyboard: 10 neighbours exactly as the API answers, and the URL says so"), async () => {
    const page = await open("/");
    await page.focus("#q");
    await page.keyboard.type("11");
    await page.waitForFunction(() => document.querySelectorAll("#q-list option").length > 0);
    expect(await page.$$eval("#q-list option", (os) => os.map((o) => o.getAttribute("value")))).toContain("110");
    await page.keyboard.type("0");
    await page.keyboard.press("Enter");
    const list = await shown(page);
    expect(list).toHaveLength(10);
    expect(list).toEqual(asShown(await apiJson("/api/similarity/110")));
    expect(new URL(page.url()).search).toBe("?user=110");
    await page.close();
  }, T);

  test(title("an explanation opened with the keyboard adds up to the score shown"), async () => {
    const page = await open("/?user=110");
    const list = await shown(page);
    await page.focus("#similar li.neighbor details summary");
    await page.keyboard.press("Enter");
    const first = page.locator("#similar li.neighbor").first();
    await first.locator("details[open] .blocks").waitFor();
    const parts = (await first.locator(".blocks .part").allTextContents()).map(Number);
    const total = Number(await first.locator(".blocks .total").textContent());
    expect(parts.length).toBeGreaterThanOrEqual(3);
    // Each shown to 4 decimals: the rounding of at most 4 parts and of the score.
    expect(Math.abs(parts.reduce((a, b) => a + b, 0) - list[0][1])).toBeLessThan(5e-4);
    expect(Math.abs(total - list[0][1])).toBeLessThanOrEqual(5e-5 + 1e-9);
    expect(await first.locator(".items tbody tr").count()).toBeGreaterThan(0);
    await page.close();
  }, T);

  test(title("clicking a neighbour makes them the learner; Back and Forward walk the history"), async () => {
    const page = await open("/?user=110");
    const before = await shown(page);
    const next = before[1][0];
    await page.click(`#similar li.neighbor[data-handle="${next}"] a.user`);
    await page.waitForFunction((h) => document.getElementById("learner")?.textContent === h, next);
    expect(new URL(page.url()).searchParams.get("user")).toBe(next);
    expect(await shown(page)).toEqual(asShown(await apiJson(`/api/similarity/${next}`)));
    const profile = await apiJson(`/api/users/${next}`);
    expect(await page.locator("#profile .chips li").allTextContents()).toEqual(profile.interests);
    await page.goBack();
    await page.waitForFunction(() => document.getElementById("learner")?.textContent === "110");
    expect(await shown(page)).toEqual(before);
    await page.goForward();
    await page.waitForFunction((h) => document.getElementById("learner")?.textContent === h, next);
    await page.close();
  }, T);

  test(title("the method switch shows the factorization table's neighbours; its URL opens the same view"), async () => {
    const page = await open("/?user=110");
    await shown(page);
    await page.selectOption("#source", "method:factorization");
    await page.waitForURL((u) => u.searchParams.get("method") === "factorization");
    await page.waitForSelector("#similar li.neighbor");
    const fm = asShown(await apiJson("/api/similarity/110?method=factorization"));
    expect(await shown(page)).toEqual(fm);
    expect(fm).not.toEqual(asShown(await apiJson("/api/similarity/110")));
    const direct = await open("/?user=110&method=factorization&compare=similarity");
    expect(await shown(direct)).toEqual(fm);
    expect(await direct.inputValue("#source")).toBe("method:factorization");
    // Compare (with similarity, as the address asks): the overlap shown is the overlap of the two lists.
    await direct.waitForSelector("#compare .overlap");
    const sim = new Set((await apiJson("/api/similarity/110")).map((n: { similar: string }) => n.similar));
    expect(Number(await direct.getAttribute("#compare [data-overlap]", "data-overlap"))).toBe(fm.filter(([h]) => sim.has(h as string)).length);
    await page.close();
    await direct.close();
  }, T);

  test(title("the run view charts one point per ALS iteration of the factorization run (its loss; no AUC), and the score histograms"), async () => {
    const page = await open("/?method=factorization&view=run");
    const tables = await apiJson("/api/tables");
    const fm = tables.tables.find((t: { table: string }) => t.table === "fm_ranking");
    await page.waitForSelector("#epochs svg");
    const perChart = await page.$$eval("#epochs svg", (svgs) => svgs.map((s) => s.querySelectorAll("circle.point").length));
    // The default training is ALS: one loss per iteration, and no sampled AUC to chart (BPR has two charts).
    expect(fm.run.params.training).toBe("als");
    expect(perChart).toEqual([fm.run.params.alsIterations]);
    const losses = await page.$$eval("#epochs circle.point title", (ts) => ts.map((t) => t.textContent));
    expect(losses).toEqual(fm.epochs.map((e: { epoch: number; loss: number }) => `iteration ${e.epoch}: ${e.loss.toFixed(4)}`));
    expect(fm.epochs).toHaveLength(fm.run.params.alsIterations);
    await page.waitForSelector("#histograms svg");
    const bars = await page.$$eval("#histograms svg", (svgs) => svgs.map((s) => s.querySelectorAll("rect.hbar").length));
    expect(bars).toEqual([20, 20]);
    expect(await page.textContent("main")).toContain(fm.run.input.sha256.slice(0, 16));
    await page.close();
  }, T);

  test(title("the new-learner form folds a profile in and lists its similar learners"), async () => {
    const page = await open("/?view=new");
    await page.fill("#interests-input", "python");
    await page.press("#interests-input", "Enter");
    const course = (await apiJson("/api/items?kind=courses&prefix=python&limit=1")).items[0];
    await page.fill("#courses-input", course);
    await page.fill("#courses-minutes", "90");
    await page.click("#courses-add");
    expect(await page.locator("#new-learner .chips li").count()).toBe(2);
    await page.click("#new-learner button[type=submit]");
    const list = await shown(page, "#fold-in");
    const api: any = await (await fetch(sample.dev + "/api/similarity/", { method: "POST", body: JSON.stringify({ profile: { interests: ["python"], courses: { [course]: 5400 } }, n: 10 }) })).json();
    expect(list).toEqual(asShown(api.similar));
    expect(list).toHaveLength(10);
    await page.close();
  }, T);

  test(title("prod: without a token the page asks for it and shows no data; with it, the learner"), async () => {
    const page = await browser.newPage({ viewport: DESKTOP });
    const apiCalls: string[] = [];
    page.on("request", (r) => new URL(r.url()).pathname.startsWith("/api/") && apiCalls.push(r.url()));
    // Chromium logs each refused request (401) as a console error: expected only while the token is wrong.
    let wrongToken = false;
    const refused: string[] = [];
    page.on("console", (m) => m.type() === "error" && (wrongToken && /status of 401/.test(m.text()) ? refused : problems).push(`prod: ${m.text()}`));
    await page.goto(sample.prod + "/?user=110");
    await page.waitForSelector("#token-form #token");
    expect(await page.locator("li.neighbor").count()).toBe(0);
    expect(apiCalls).toEqual([]);
    // A wrong token: asked again, saying why, still no data.
    wrongToken = true;
    await page.fill("#token", "not-the-token");
    await page.press("#token", "Enter");
    await page.waitForSelector("#token-form [role=alert]");
    wrongToken = false;
    expect(refused).toEqual(["prod: Failed to load resource: the server responded with a status of 401 (Unauthorized)"]);
    expect(await page.textContent("#token-form [role=alert]")).toContain("not accepted");
    expect(await page.locator("li.neighbor").count()).toBe(0);
    await page.fill("#token", TOKEN);
    await page.press("#token", "Enter");
    expect(await shown(page)).toEqual(asShown(await apiJson("/api/similarity/110")));
    // Kept in memory only.
    expect(await page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie])).toEqual([0, 0, ""]);
    await page.close();
  }, T);

  test(title("readable at 390 px (one column) and 1280×800 (two), no sideways scrolling; the first load is under 300 KB, all from the page's own origin"), async () => {
    const page = await open("/?user=110", PHONE);
    await shown(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    const columns = () => page.$eval("main .grid", (g) => getComputedStyle(g).gridTemplateColumns.split(" ").length);
    expect(await columns()).toBe(1);
    // At 1280×800: two columns, and no sideways scrolling either.
    await page.setViewportSize(DESKTOP);
    expect(await columns()).toBe(2);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(DESKTOP.width);
    await page.close();
    const cold = await browser.newContext({ viewport: DESKTOP });
    const first = await cold.newPage();
    // Offline: nothing is fetched from any other origin (no CDN, no font, no analytics).
    const origins = new Set<string>();
    first.on("request", (r) => origins.add(new URL(r.url()).origin));
    await first.goto(`${sample.dev}/?user=110`);
    const interactive = await ready(first);
    await first.waitForSelector("#compare .overlap");
    await first.waitForLoadState("networkidle");
    const { total } = await loadedBytes(first);
    expect(total).toBeLessThan(300 * 1024);
    expect([...origins]).toEqual([new URL(sample.dev).origin]);
    // The target is 1 s on an idle machine (README); a loaded CI box gets slack.
    expect(interactive).toBeLessThan(3000);
    await cold.close();
  }, T);

  test(title("the method switch offers every method with a table (als too) and shows the chosen one's neighbours"), async () => {
    const page = await open("/?user=110");
    await shown(page);
    const tables = (await apiJson("/api/tables")).tables as { table: string; run: { method: string } }[];
    const offered = await page.$$eval("#source option", (os) => os.map((o) => o.getAttribute("value")));
    expect(offered.filter((v) => v!.startsWith("method:")).sort()).toEqual([...new Set(tables.map((t) => `method:${t.run.method}`))].sort());
    expect(offered).toContain("method:als");
    // The older factorization table (BPR) stays reachable by its name.
    expect(offered).toContain("table:fm_bpr");
    await page.selectOption("#source", "method:als");
    await page.waitForURL((u) => u.searchParams.get("method") === "als");
    await page.waitForFunction(() => document.querySelector("h2.who")?.textContent?.includes("als"));
    const als = asShown(await apiJson("/api/similarity/110?method=als"));
    expect(await shown(page)).toEqual(als);
    expect(als).not.toEqual(asShown(await apiJson("/api/similarity/110?method=factorization")));
    await page.close();
  }, T);

  test(title("compare: the learner picks the other method; overlap and the all-learners overlap@10 histogram are the API's"), async () => {
    const page = await open("/?user=110");
    await page.waitForSelector("#compare .overlap");
    const others = await page.$$eval("#compare-with option", (os) => os.map((o) => o.getAttribute("value")));
    expect(others.sort()).toEqual(["als", "factorization"]);
    const sim = (await apiJson("/api/similarity/110")).map((n: { similar: string }) => n.similar);
    for (const [other, table] of [["factorization", "fm_ranking"], ["als", "als_ranking"]]) {
      await page.selectOption("#compare-with", other);
      await page.waitForURL((u) => u.searchParams.get("compare") === other);
      await page.waitForSelector("#compare .overlap");
      const theirs = new Set((await apiJson(`/api/similarity/110?method=${other}`)).map((n: { similar: string }) => n.similar));
      expect(Number(await page.getAttribute("#compare [data-overlap]", "data-overlap"))).toBe(sim.filter((h: string) => theirs.has(h)).length);
      const hist = await apiJson(`/api/tables/user_ranking/histogram?compare=${table}`);
      expect(await page.$$eval("#compare svg rect.hbar", (rs) => rs.map((r) => Number(/: (\d+) users$/.exec(r.querySelector("title")!.textContent!)![1])))).toEqual(hist.overlap.counts);
    }
    // The choice is in the address: opening it shows the same comparison.
    const direct = await open("/?user=110&compare=als");
    await direct.waitForSelector("#compare .overlap");
    expect(await direct.inputValue("#compare-with")).toBe("als");
    await direct.close();
    await page.close();
  }, T);

  test(title("the profile and the recommended courses, with their voters, are the API's"), async () => {
    const page = await open("/?user=110");
    await page.waitForSelector("#recommended ol.recs li");
    await page.waitForSelector("#profile table");
    const profile = await apiJson("/api/users/110");
    const courses = await page.$$eval("#profile table.kv:first-of-type tbody tr", (trs) => trs.map((tr) => [tr.children[0].textContent, Number(tr.children[1].textContent)] as [string, number]));
    expect(new Map(courses)).toEqual(new Map(Object.entries(profile.courses).map(([c, sec]) => [c, Math.round((sec as number) / 60)])));
    const recs = await apiJson("/api/recommendations/110?kind=courses&n=10");
    expect(recs.items.length).toBeGreaterThan(0);
    const rows = await page.$$eval("#recommended ol.recs > li", (lis) => lis.map((li) => [li.querySelector(".item")!.textContent, [...li.querySelectorAll(".voters a.user")].map((a) => a.textContent)]));
    expect(rows).toEqual(recs.items.map((i: { item: string; voters: { similar: string }[] }) => [i.item, i.voters.map((v) => v.similar)]));
    await page.close();
  }, T);

  test(title("the run view of a BPR-trained factorization table charts the loss and the sampled AUC, one point per epoch"), async () => {
    const page = await open("/?table=fm_bpr&view=run");
    const fm = (await apiJson("/api/tables")).tables.find((t: { table: string }) => t.table === "fm_bpr");
    expect(fm.run.params.training).toBe("bpr");
    expect(fm.epochs).toHaveLength(BPR_EPOCHS);
    await page.waitForSelector("#epochs svg");
    const charts = await page.$$eval("#epochs svg", (svgs) => svgs.map((s) => [...s.querySelectorAll("circle.point title")].map((t) => t.textContent)));
    expect(charts).toEqual([fm.epochs.map((e: { epoch: number; loss: number }) => `epoch ${e.epoch}: ${e.loss.toFixed(4)}`), fm.epochs.map((e: { epoch: number; auc: number }) => `epoch ${e.epoch}: ${e.auc.toFixed(4)}`)]);
    await page.close();
  }, T);

  test(title("the run view lists the run's stage timings and parameters, and says stale when /api/tables does"), async () => {
    const page = await open("/?view=run");
    const tables = await apiJson("/api/tables");
    const served = tables.tables.find((t: { table: string }) => t.table === tables.served);
    const facts = async () => Object.fromEntries(await page.$$eval(".facts dt", (dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling!.textContent])));
    const run = await facts();
    expect([run.table, run.run, run.stale]).toEqual([served.table, `#${served.run.id}, similarity`, "no"]);
    for (const [k, v] of Object.entries(served.run.params)) expect(run[k]).toBe(JSON.stringify(v));
    const stages = await page.$$eval("#main table.kv tbody tr", (trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent]));
    expect(stages).toEqual(Object.entries(served.run.stages).map(([k, v]) => [k, (v as number).toFixed(3)]));
    // The sample's input does not change under the test: the answer is altered to say it did.
    await page.route("**/api/tables", async (route) => {
      const answer = await (await route.fetch()).json();
      for (const t of answer.tables) t.stale = true;
      await route.fulfill({ json: answer });
    });
    await page.reload();
    await ready(page);
    expect((await facts()).stale).toStartWith("yes");
    await page.close();
  }, T);

  test(title("keyboard only: Enter on a neighbour follows it, focus lands on the content; the rankings switch and the views' links work from the keyboard"), async () => {
    const page = await open("/?user=110");
    const [, [next]] = await shown(page);
    await page.focus(`#similar li.neighbor[data-handle="${next}"] a.user`);
    await page.keyboard.press("Enter");
    await page.waitForFunction((h) => document.getElementById("learner")?.textContent === h, next);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    await page.focus("#source");
    const before = await page.inputValue("#source");
    await page.keyboard.press("ArrowDown");
    await page.waitForURL((u) => u.searchParams.has("method") || u.searchParams.has("table"));
    expect(await page.inputValue("#source")).not.toBe(before);
    await page.waitForSelector("#similar li.neighbor");
    await page.focus('nav a[data-view="run"]');
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => u.searchParams.get("view") === "run");
    await page.waitForSelector("#main .facts");
    await page.close();
  }, T);

  test(title("the screenshots (desktop, run view, phone) are taken, into a temporary directory"), async () => {
    const out = mkdtempSync(join(tmpdir(), "recsys-shots-"));
    try {
      const files = await screenshots(browser, sample.dev, out);
      expect(files).toHaveLength(3);
      for (const f of files) expect(readFileSync(f).subarray(1, 4).toString()).toBe("PNG");
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, T);

  test(title("no console errors or uncaught exceptions on any page"), () => {
    expect(problems).toEqual([]);
  }, T);
});
