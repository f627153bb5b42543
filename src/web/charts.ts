/**
 * Plain SVG charts: a line of points per epoch and a histogram. Two chart kinds with a dozen
 * points each do not pay for a charting library's 40–50 KB (uPlot, Observable Plot), and SVG needs
 * no inline style or script, so the strict CSP holds.
 */
import { h, s } from "./dom.ts";

const W = 320;
const H = 160;
const PAD = { left: 44, right: 10, top: 10, bottom: 28 };

function ticks(lo: number, hi: number, count = 4): number[] {
  if (hi === lo) return [lo];
  return Array.from({ length: count + 1 }, (_, i) => lo + ((hi - lo) * i) / count);
}

function frame(title: string, label: string): SVGSVGElement {
  return s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label }, s("title", {}, title));
}

/** A chart with its title shown above it. */
export function figure(title: string, chart: SVGSVGElement): HTMLElement {
  return h("figure", { class: "figure" }, h("figcaption", {}, title), chart);
}

/** One point per x (an epoch, an iteration: `unit`), joined by a line; each point carries `data-x` and a tooltip. */
export function lineChart(title: string, xs: number[], ys: number[], unit = "epoch", digits = 4): SVGSVGElement {
  const svg = frame(title, `${title}: ${ys.map((y, i) => `${xs[i]}: ${y.toFixed(digits)}`).join(", ")}`);
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (hi === lo) [lo, hi] = [lo - 0.5, hi + 0.5];
  // A margin so the extreme points are not cut by the frame.
  [lo, hi] = [lo - (hi - lo) * 0.06, hi + (hi - lo) * 0.06];
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const px = (x: number) => PAD.left + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const py = (y: number) => H - PAD.bottom - ((y - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  for (const t of ticks(lo, hi)) {
    svg.append(s("line", { x1: PAD.left, x2: W - PAD.right, y1: py(t), y2: py(t), class: "grid" }));
    svg.append(s("text", { x: PAD.left - 4, y: py(t) + 3, class: "tick", "text-anchor": "end" }, t.toFixed(3)));
  }
  for (const x of xs) svg.append(s("text", { x: px(x), y: H - PAD.bottom + 14, class: "tick", "text-anchor": "middle" }, x));
  svg.append(s("text", { x: (W + PAD.left) / 2, y: H - 2, class: "axis", "text-anchor": "middle" }, unit));
  svg.append(s("polyline", { points: xs.map((x, i) => `${px(x)},${py(ys[i])}`).join(" "), class: "line" }));
  xs.forEach((x, i) => svg.append(s("circle", { cx: px(x), cy: py(ys[i]), r: 3.5, class: "point", "data-x": x }, s("title", {}, `${unit} ${x}: ${ys[i].toFixed(digits)}`))));
  return svg;
}

/** Bars of counts over equal-width bins of [min, max]. */
export function histogram(title: string, counts: number[], min: number, max: number, xLabel: string, binLabel?: (i: number) => string): SVGSVGElement {
  const svg = frame(title, `${title}: ${counts.join(", ")}`);
  const top = Math.max(1, ...counts);
  const width = (W - PAD.left - PAD.right) / Math.max(1, counts.length);
  const py = (c: number) => H - PAD.bottom - (c / top) * (H - PAD.top - PAD.bottom);
  for (const t of ticks(0, top, 2)) svg.append(s("text", { x: PAD.left - 4, y: py(t) + 3, class: "tick", "text-anchor": "end" }, Math.round(t)));
  counts.forEach((c, i) => {
    const lo = min + ((max - min) * i) / counts.length;
    const hi = min + ((max - min) * (i + 1)) / counts.length;
    const label = binLabel ? binLabel(i) : `${lo.toFixed(3)}–${hi.toFixed(3)}`;
    svg.append(s("rect", { x: PAD.left + i * width + 0.5, y: py(c), width: Math.max(1, width - 1), height: H - PAD.bottom - py(c), class: "hbar" }, s("title", {}, `${label}: ${c} users`)));
  });
  if (binLabel) counts.forEach((_, i) => svg.append(s("text", { x: PAD.left + (i + 0.5) * width, y: H - PAD.bottom + 12, class: "tick", "text-anchor": "middle" }, binLabel(i))));
  else {
    svg.append(s("text", { x: PAD.left, y: H - PAD.bottom + 12, class: "tick", "text-anchor": "start" }, min.toFixed(3)));
    svg.append(s("text", { x: W - PAD.right, y: H - PAD.bottom + 12, class: "tick", "text-anchor": "end" }, max.toFixed(3)));
  }
  svg.append(s("text", { x: (W + PAD.left) / 2, y: H - 2, class: "axis", "text-anchor": "middle" }, xLabel));
  return svg;
}
