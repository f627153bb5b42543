/**
 * The explorer page: a learner, their similar learners and why, recommended courses, the two
 * methods compared, the run behind a table, and a new learner folded in. All state lives in the
 * URL (`?user=110&method=factorization&view=run`), so an address shows the same thing to anyone
 * and Back/Forward walk through what was looked at. Every number comes from the public API.
 */
import { api, ApiError, qs, setToken, type Histograms, type Neighbor, type Profile, type Recommendations, type TableInfo, type Tables } from "./api.ts";
import { figure, histogram, lineChart } from "./charts.ts";
import { bar, fmt, h } from "./dom.ts";

type View = "learner" | "run" | "new";

interface State {
  user?: string;
  method?: string;
  table?: string;
  /** The method the learner's top-10 is compared with (default: the first other method with a table). */
  compare?: string;
  view: View;
}

const main = document.getElementById("main") as HTMLElement;
const status = document.getElementById("status") as HTMLElement;
const search = document.getElementById("search") as HTMLFormElement;
const query = document.getElementById("q") as HTMLInputElement;
const suggestions = document.getElementById("q-list") as HTMLDataListElement;
const source = document.getElementById("source") as HTMLSelectElement;

let tables: Tables | null = null;
/** Bumped per render: an answer arriving for an older render is dropped. */
let renderId = 0;
/** Whether no view has been rendered yet (the first one leaves focus where the browser put it). */
let first = true;

function readState(): State {
  const p = new URLSearchParams(location.search);
  const view = p.get("view");
  return {
    user: p.get("user") ?? undefined,
    method: p.get("method") ?? undefined,
    table: p.get("table") ?? undefined,
    compare: p.get("compare") ?? undefined,
    view: view === "run" || view === "new" ? view : "learner",
  };
}

function href(state: State): string {
  return "/" + qs({ user: state.user, method: state.method, table: state.table, compare: state.compare, view: state.view === "learner" ? undefined : state.view });
}

/** Moves to `patch` of the current state, as a new history entry. */
function go(patch: Partial<State>): void {
  const next = { ...readState(), ...patch };
  history.pushState(null, "", href(next));
  window.scrollTo(0, 0);
  void render();
}

/** A link to a state that the page follows itself (still a real link: new tab, copy address). */
function link(state: Partial<State>, text: string, cls = ""): HTMLAnchorElement {
  const to = { ...readState(), ...state };
  return h("a", {
    href: href(to),
    class: cls,
    onclick: (e: Event) => {
      const m = e as MouseEvent;
      if (m.button !== 0 || m.metaKey || m.ctrlKey || m.shiftKey || m.altKey) return;
      e.preventDefault();
      go(state);
    },
  }, text);
}

function userLink(handle: string): HTMLAnchorElement {
  return link({ user: handle, view: "learner" }, handle, "user");
}

/** The `method`/`table` fields of an API request for the chosen rankings. */
function chosen(state: State): { method?: string; table?: string } {
  return state.table ? { table: state.table } : state.method ? { method: state.method } : {};
}

/** The table the state names (a table, the latest of a method, or the served one). */
function currentTable(state: State): TableInfo | undefined {
  if (!tables) return undefined;
  if (state.table) return tables.tables.find((t) => t.table === state.table);
  if (state.method) return latestOf(state.method);
  return tables.tables.find((t) => t.table === tables!.served);
}

function latestOf(method: string): TableInfo | undefined {
  let best: TableInfo | undefined;
  for (const t of tables?.tables ?? []) if (t.run?.method === method && (!best || t.run.id > (best.run?.id ?? -1))) best = t;
  return best;
}

function methods(): string[] {
  return [...new Set((tables?.tables ?? []).map((t) => t.run?.method).filter((m): m is string => Boolean(m)))].sort();
}

function fillSource(state: State): void {
  source.replaceChildren();
  for (const m of methods()) source.append(h("option", { value: `method:${m}` }, `${m} (${latestOf(m)?.table})`));
  for (const t of tables?.tables ?? []) {
    if (t.run && latestOf(t.run.method) === t) continue;
    source.append(h("option", { value: `table:${t.table}` }, `table ${t.table}`));
  }
  const current = currentTable(state);
  const value = state.table ? `table:${state.table}` : state.method ? `method:${state.method}` : current?.run && latestOf(current.run.method) === current ? `method:${current.run.method}` : `table:${current?.table}`;
  source.value = value;
}

function section(title: string, ...children: (Node | string)[]): HTMLElement {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

function failure(e: unknown): HTMLElement {
  const message = e instanceof ApiError ? e.message : `could not reach the server: ${(e as Error).message}`;
  return h("p", { class: "error", role: "alert" }, message);
}

/** A section whose body loads on its own: the rest of the page does not wait for it. */
function later(title: string, load: () => Promise<Node[]>, id: string): HTMLElement {
  const body = h("div", { class: "loading" }, "Loading…");
  const card = section(title, body);
  card.id = id;
  const mine = renderId;
  load().then(
    (nodes) => {
      if (mine !== renderId) return;
      body.replaceWith(h("div", {}, ...nodes));
      // When each part of the page is there (tools/screenshots.ts reports the first load's).
      performance.mark(`shown:${id}`);
    },
    (e) => mine === renderId && body.replaceWith(failure(e)),
  );
  return card;
}

// ---- learner view ------------------------------------------------------------------------------

function profileCard(p: Profile): Node[] {
  const courses = Object.entries(p.courses).sort((a, b) => b[1] - a[1]);
  const longest = Math.max(1, ...courses.map(([, s]) => s));
  const assessments = Object.entries(p.assessments).sort((a, b) => b[1] - a[1]);
  return [
    h("h3", {}, `Interests (${p.interests.length})`),
    p.interests.length ? h("ul", { class: "chips" }, ...p.interests.map((i) => h("li", {}, i))) : h("p", { class: "muted" }, "none"),
    h("h3", {}, `Courses (${courses.length})`),
    courses.length
      ? h("table", { class: "kv" }, h("thead", {}, h("tr", {}, h("th", {}, "course"), h("th", { class: "num" }, "minutes"), h("th", {}, ""))), h("tbody", {}, ...courses.map(([c, sec]) => h("tr", {}, h("td", {}, c), h("td", { class: "num" }, Math.round(sec / 60)), h("td", { class: "barcell" }, bar(sec / longest))))))
      : h("p", { class: "muted" }, "none"),
    h("h3", {}, `Assessments (${assessments.length})`),
    assessments.length
      ? h("table", { class: "kv" }, h("thead", {}, h("tr", {}, h("th", {}, "assessment"), h("th", { class: "num" }, "score"))), h("tbody", {}, ...assessments.map(([a, sc]) => h("tr", {}, h("td", {}, a), h("td", { class: "num" }, sc)))))
      : h("p", { class: "muted" }, "none"),
  ];
}

function explanationBody(n: Neighbor): HTMLElement {
  const e = n.explanation!;
  const rows: [string, number][] = [["interests", e.blocks.interests], ["courses", e.blocks.courses], ["assessments", e.blocks.assessments]];
  if (e.residual !== 0) rows.push(["residual", e.residual]);
  const scale = Math.max(1e-12, ...rows.map(([, v]) => Math.abs(v)));
  return h(
    "div",
    { class: "explain" },
    h("p", { class: "muted" }, e.meaning),
    h(
      "table",
      { class: "blocks" },
      h("tbody", {}, ...rows.map(([name, v]) => h("tr", { "data-block": name }, h("th", { scope: "row" }, name), h("td", { class: "num part" }, fmt(v)), h("td", { class: "num share" }, e.score ? `${Math.round((v / e.score) * 100)}%` : ""), h("td", { class: "barcell" }, bar(Math.abs(v) / scale, v < 0 ? "neg" : name))))),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row" }, "score"), h("td", { class: "num total" }, fmt(e.score)), h("td", { class: "num share" }, "100%"), h("td", {}))),
    ),
    e.items.length
      ? h(
          "table",
          { class: "items" },
          h("thead", {}, h("tr", {}, h("th", {}, "item"), h("th", {}, "block"), h("th", { class: "num" }, "contribution"))),
          h("tbody", {}, ...e.items.map((i) => h("tr", { class: i.shared ? "shared" : "" }, h("td", {}, i.item, i.shared ? h("span", { class: "tag" }, " shared") : null), h("td", {}, i.block), h("td", { class: "num" }, fmt(i.contribution))))),
        )
      : h("p", { class: "muted" }, "no items to list"),
  );
}

function neighborList(list: Neighbor[], explain: boolean): HTMLOListElement {
  const top = Math.max(1e-12, ...list.map((n) => n.score));
  return h(
    "ol",
    { class: "neighbors" },
    ...list.map((n) =>
      h(
        "li",
        { class: "neighbor", "data-handle": n.similar },
        h("div", { class: "row" }, userLink(n.similar), h("span", { class: "num score" }, fmt(n.score)), bar(n.score / top)),
        explain && n.explanation ? h("details", {}, h("summary", {}, "why similar"), explanationBody(n)) : null,
      ),
    ),
  );
}

async function similarCard(state: State, user: string): Promise<Node[]> {
  const list = await api<Neighbor[]>(`/api/similarity/${qs({ user_handle: user, n: 10, explain: true, ...chosen(state) })}`);
  return [neighborList(list, true)];
}

async function recommendationsCard(state: State, user: string): Promise<Node[]> {
  const r = await api<Recommendations>(`/api/recommendations/${qs({ user_handle: user, kind: "courses", n: 10, ...chosen(state) })}`);
  if (r.items.length === 0) return [h("p", { class: "muted" }, "Nothing to recommend: the neighbours have no course this learner lacks.")];
  const top = Math.max(1e-12, ...r.items.map((i) => i.score));
  return [
    h("p", { class: "muted" }, "Courses the 20 most similar learners took and this one did not; each vote weighs the voter's similarity."),
    h(
      "ol",
      { class: "recs" },
      ...r.items.map((i) =>
        h(
          "li",
          {},
          h("div", { class: "row" }, h("span", { class: "item" }, i.item), h("span", { class: "num score" }, fmt(i.score, 3)), bar(i.score / top)),
          h("div", { class: "voters" }, `${i.voters.length} voter${i.voters.length === 1 ? "" : "s"}: `, ...i.voters.flatMap((v, k) => [k ? ", " : "", userLink(v.similar)])),
        ),
      ),
    ),
  ];
}

async function compareCard(state: State, user: string): Promise<Node[]> {
  const current = currentTable(state);
  const others = methods().filter((m) => m !== current?.run?.method);
  if (!current || others.length === 0) return [h("p", { class: "muted" }, "Only one method has a rankings table: run the pipeline with the other method to compare.")];
  // Three methods may have tables: the learner picks the one to compare with (kept in the URL).
  const other = state.compare && others.includes(state.compare) ? state.compare : others[0];
  const otherTable = latestOf(other)!;
  const pick = h("select", { id: "compare-with" }, ...others.map((m) => h("option", { value: m, selected: m === other }, `${m} (${latestOf(m)?.table})`)));
  pick.addEventListener("change", () => go({ compare: pick.value }));
  const [mine, theirs, hist] = await Promise.all([
    api<Neighbor[]>(`/api/similarity/${qs({ user_handle: user, n: 10, ...chosen(state) })}`),
    api<Neighbor[]>(`/api/similarity/${qs({ user_handle: user, n: 10, method: other })}`),
    api<Histograms>(`/api/tables/${encodeURIComponent(current.table)}/histogram${qs({ compare: otherTable.table })}`),
  ]);
  const theirSet = new Set(theirs.map((n) => n.similar));
  const mySet = new Set(mine.map((n) => n.similar));
  const shared = mine.filter((n) => theirSet.has(n.similar)).length;
  const column = (title: string, list: Neighbor[], otherSet: Set<string>) =>
    h("div", {}, h("h3", {}, title), h("ol", { class: "compact" }, ...list.map((n) => h("li", { class: otherSet.has(n.similar) ? "shared" : "" }, userLink(n.similar), " ", h("span", { class: "num" }, fmt(n.score))))));
  const o = hist.overlap!;
  return [
    h("p", { class: "compare-with" }, h("label", { for: "compare-with" }, `${current.run?.method ?? current.table} against `), pick),
    h("p", { class: "overlap" }, h("strong", { "data-overlap": shared }, `${shared} of ${Math.min(mine.length, theirs.length)}`), ` of this learner's top-10 are in both lists (highlighted). Across all ${o.users} learners the mean overlap@10 is ${o.mean.toFixed(2)}.`),
    h("div", { class: "columns" }, column(`${current.run?.method ?? current.table} (${current.table})`, mine, theirSet), column(`${other} (${otherTable.table})`, theirs, mySet)),
    figure("Overlap@10 over all learners", histogram(`Overlap@10 of ${current.table} and ${otherTable.table}, all learners`, o.counts, 0, o.k, "shared neighbours in the top-10", (i) => String(i))),
  ];
}

function learnerView(state: State): Node[] {
  if (!state.user) {
    return [section("Pick a learner", h("p", {}, "Type a handle above (suggestions appear as you type), or try ", userLink("110"), "."))];
  }
  const user = state.user;
  const method = currentTable(state)?.run?.method ?? "";
  return [
    h("h2", { class: "who" }, "Learner ", h("span", { id: "learner" }, user), method ? h("span", { class: "muted" }, ` · ${method}`) : null),
    // Two columns that stack on their own (the neighbours' list is long): one on a phone.
    h(
      "div",
      { class: "grid" },
      h("div", { class: "col" }, later("Similar learners", () => similarCard(state, user), "similar"), later("Recommended courses", () => recommendationsCard(state, user), "recommended")),
      h(
        "div",
        { class: "col" },
        later("Profile", async () => profileCard(await api<Profile>(`/api/users/${encodeURIComponent(user)}${qs(chosen(state))}`)), "profile"),
        later("Compare methods", () => compareCard(state, user), "compare"),
      ),
    ),
  ];
}

// ---- run view ----------------------------------------------------------------------------------

function runView(state: State): Node[] {
  const t = currentTable(state);
  if (!t) return [section("The run", h("p", { class: "error" }, "No such rankings table."))];
  const run = t.run;
  const facts: [string, Node | string][] = run
    ? [
        ["table", t.table],
        ["run", `#${run.id}, ${run.method}`],
        ["finished", new Date(run.finishedAt).toLocaleString()],
        ["users ranked", String(run.users)],
        ["rows", String(run.rows)],
        ["input", run.input?.sha256 ? run.input.sha256.slice(0, 16) + "…" : "not recorded"],
        ["stale", t.stale ? h("strong", { class: "error" }, "yes: the input changed since; run the pipeline again") : "no"],
      ]
    : [["table", t.table], ["run", "none recorded"]];
  const stages = Object.entries(run?.stages ?? {});
  const longest = Math.max(1e-9, ...stages.map(([, v]) => v));
  const nodes: Node[] = [
    h("h2", { class: "who" }, `The run behind ${t.table}`),
    h(
      "div",
      { class: "grid" },
      section("Run", h("dl", { class: "facts" }, ...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    ),
  ];
  const grid = nodes[1] as HTMLElement;
  if (t.epochs && t.epochs.length) {
    const xs = t.epochs.map((e) => e.epoch);
    // BPR epochs carry a sampled AUC; ALS iterations (factorization --training als) only a loss.
    const aucs = t.epochs.map((e) => e.auc);
    const bpr = aucs.every((a): a is number => typeof a === "number" && Number.isFinite(a));
    const lossTitle = bpr ? "BPR loss" : "Loss";
    const unit = bpr ? "epoch" : "iteration";
    const charts = [figure(lossTitle, lineChart(lossTitle, xs, t.epochs.map((e) => e.loss), unit))];
    if (bpr) charts.push(figure("Sampled AUC", lineChart("Sampled AUC", xs, aucs, unit)));
    const card = section(bpr ? "Training per epoch" : "Training per iteration", h("div", { class: "charts", id: "epochs" }, ...charts));
    grid.append(card);
  }
  grid.append(section("Stage timings (s)", h("table", { class: "kv" }, h("tbody", {}, ...stages.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, v.toFixed(3)), h("td", { class: "barcell" }, bar(v / longest))))))));
  grid.append(
    later(
      "Scores over all learners",
      async () => {
        const hist = await api<Histograms>(`/api/tables/${encodeURIComponent(t.table)}/histogram`);
        return [
          h("p", { class: "muted" }, `${hist.users} learners: the best neighbour's score, and the 10th's.`),
          h("div", { class: "charts" }, figure("Best neighbour's score", histogram("Top-1 score", hist.top1.counts, hist.top1.min, hist.top1.max, "top-1 score")), figure("10th neighbour's score", histogram("Top-10 score (rank 10)", hist.top10.counts, hist.top10.min, hist.top10.max, "score at rank 10"))),
        ];
      },
      "histograms",
    ),
    section("Parameters", h("dl", { class: "facts" }, ...Object.entries(run?.params ?? {}).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, JSON.stringify(v))]))),
  );
  return nodes;
}

// ---- new learner (fold-in) ---------------------------------------------------------------------

function picker(kind: "interests" | "courses", chosenItems: Map<string, number>, withMinutes: boolean): HTMLElement {
  const listId = `${kind}-list`;
  const input = h("input", { id: `${kind}-input`, list: listId, autocomplete: "off", placeholder: kind === "interests" ? "e.g. python" : "a course id" });
  const datalist = h("datalist", { id: listId });
  const minutes = h("input", { id: `${kind}-minutes`, type: "number", min: 1, value: 60, class: "minutes", "aria-label": "minutes" });
  const chips = h("ul", { class: "chips removable" });
  const redraw = () =>
    chips.replaceChildren(
      ...[...chosenItems].map(([item, m]) =>
        h("li", {}, withMinutes ? `${item} · ${m} min ` : `${item} `, h("button", { type: "button", class: "x", "aria-label": `remove ${item}`, onclick: () => (chosenItems.delete(item), redraw()) }, "×")),
      ),
    );
  let timer = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const r = await api<{ items: string[] }>(`/api/items${qs({ kind, prefix: input.value.trim(), limit: 20, ...chosen(readState()) })}`).catch(() => ({ items: [] }));
      datalist.replaceChildren(...r.items.map((i) => h("option", { value: i })));
    }, 120);
  });
  const add = () => {
    const item = input.value.trim();
    if (!item) return;
    chosenItems.set(item, withMinutes ? Math.max(1, Number(minutes.value) || 60) : 1);
    input.value = "";
    redraw();
    input.focus();
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      add();
    }
  });
  return h(
    "fieldset",
    {},
    h("legend", {}, kind === "interests" ? "Interests" : "Courses and minutes watched"),
    h("div", { class: "pick" }, h("label", { for: input.id, class: "sr" }, kind), input, datalist, withMinutes ? minutes : null, h("button", { type: "button", id: `${kind}-add`, onclick: add }, "Add")),
    chips,
  );
}

function newLearnerView(state: State): Node[] {
  const interests = new Map<string, number>();
  const courses = new Map<string, number>();
  const result = h("div", { id: "fold-in", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "card", id: "new-learner" },
    h("h2", {}, "Try a new learner"),
    h("p", { class: "muted" }, "Pick interests and courses; the table's model places this learner among the others without re-running the pipeline (fold-in)."),
    picker("interests", interests, false),
    picker("courses", courses, true),
    h("button", { type: "submit", class: "primary" }, "Find similar learners"),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const profile = { interests: [...interests.keys()], courses: Object.fromEntries([...courses].map(([c, m]) => [c, m * 60])) };
    result.replaceChildren(h("p", { class: "loading" }, "Asking…"));
    try {
      const r = await api<{ similar: Neighbor[]; unknown?: { interests: string[]; courses: string[] } }>("/api/similarity/", { profile, n: 10, ...chosen(state) });
      const unknown = [...(r.unknown?.interests ?? []), ...(r.unknown?.courses ?? [])];
      result.replaceChildren(
        section(
          "Similar learners",
          unknown.length ? h("p", { class: "error" }, `Not known to the model, left out: ${unknown.join(", ")}`) : "",
          r.similar.length ? neighborList(r.similar, false) : h("p", { class: "muted" }, "No similar learners: add an interest or a course the data knows."),
        ),
      );
    } catch (err) {
      result.replaceChildren(failure(err));
    }
  });
  return [form, result];
}

// ---- frame -------------------------------------------------------------------------------------

async function render(): Promise<void> {
  const state = readState();
  const mine = ++renderId;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a[data-view]")) {
    a.href = href({ ...state, view: a.dataset.view as View });
    if (a.dataset.view === state.view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  query.value = state.user ?? "";
  // The run view shows the latest run: ask again (a pipeline may have run since).
  if (!tables || state.view === "run") {
    try {
      tables = await api<Tables>("/api/tables");
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return askToken("The token was not accepted: " + e.message);
      main.replaceChildren(failure(e));
      return;
    }
  }
  if (mine !== renderId) return;
  fillSource(state);
  document.title = state.view === "run" ? `run of ${currentTable(state)?.table ?? "?"} · recsys explorer` : state.user ? `${state.user} · recsys explorer` : "recsys explorer";
  const view = state.view === "run" ? runView(state) : state.view === "new" ? newLearnerView(state) : learnerView(state);
  main.replaceChildren(...view);
  // The element that had focus (a neighbour's link) is gone: keyboard users continue from the content.
  if (!first && document.activeElement === document.body) main.focus({ preventScroll: true });
  first = false;
  status.textContent = "";
  document.documentElement.dataset.ready = String(Math.round(performance.now()));
}

/** Prod: the API needs the bearer token; it is kept in memory only (api.ts). */
function askToken(message = ""): void {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true });
  const form = h(
    "form",
    { class: "card", id: "token-form" },
    h("h2", {}, "This server needs its API token"),
    h("p", {}, "Enter the server's bearer token (RECSYS_API_TOKEN). It stays in this tab's memory only: reloading forgets it."),
    message ? h("p", { class: "error", role: "alert" }, message) : "",
    h("label", { for: "token" }, "Token "),
    input,
    " ",
    h("button", { type: "submit", class: "primary" }, "Unlock"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    setToken(input.value.trim());
    void render();
  });
  main.replaceChildren(form);
  input.focus();
}

let suggestTimer = 0;
query.addEventListener("input", () => {
  clearTimeout(suggestTimer);
  const prefix = query.value.trim();
  suggestTimer = window.setTimeout(async () => {
    const r = await api<{ users: string[] }>(`/api/users${qs({ prefix, limit: 10, ...chosen(readState()) })}`).catch(() => ({ users: [] as string[] }));
    suggestions.replaceChildren(...r.users.map((u) => h("option", { value: u })));
  }, 120);
});
search.addEventListener("submit", (e) => {
  e.preventDefault();
  const user = query.value.trim();
  if (user) go({ user, view: "learner" });
});
source.addEventListener("change", () => {
  const [kind, name] = [source.value.slice(0, source.value.indexOf(":")), source.value.slice(source.value.indexOf(":") + 1)];
  go(kind === "method" ? { method: name, table: undefined } : { table: name, method: undefined });
});
for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a[data-view]")) {
  a.addEventListener("click", (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    go({ view: a.dataset.view as View });
  });
}
window.addEventListener("popstate", () => void render());

/** In prod /healthz tells its details only to a request with the token: then ask for it before any /api call. */
async function boot(): Promise<void> {
  const health = await fetch("/healthz").then((r) => r.json()).catch(() => null);
  if (health && health.database === undefined) askToken();
  else await render();
}
void boot();
