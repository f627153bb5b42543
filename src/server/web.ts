/**
 * The explorer page at `/` (src/web/): one HTML document and its script and style, compiled into
 * the server (no files to ship, no CDN: it works offline). Script and style are named by content
 * hash and cached for a year; the document is revalidated on every load, so a new binary's page
 * is seen at once. A strict Content-Security-Policy allows only those two files and the same
 * origin's API: no inline script or style, no other origin.
 */
import { createHash } from "node:crypto";
import type { HttpResponse } from "./http.ts";
import { webBundle } from "./web-bundle.ts" with { type: "macro" };

const BUNDLE = webBundle();

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);
const JS_PATH = `/assets/app-${hash(BUNDLE.js)}.js`;
const CSS_PATH = `/assets/app-${hash(BUNDLE.css)}.css`;
const HTML = BUNDLE.html.replace("{{js}}", JS_PATH).replace("{{css}}", CSS_PATH);

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const COMMON = { "Content-Security-Policy": CONTENT_SECURITY_POLICY, "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY" };

const PAGE: HttpResponse = { status: 200, body: HTML, type: "text/html; charset=utf-8", headers: { ...COMMON, "Cache-Control": "no-cache" } };
const ASSETS = new Map<string, HttpResponse>([
  [JS_PATH, { status: 200, body: BUNDLE.js, type: "text/javascript; charset=utf-8", headers: { ...COMMON, "Cache-Control": "public, max-age=31536000, immutable" } }],
  [CSS_PATH, { status: 200, body: BUNDLE.css, type: "text/css; charset=utf-8", headers: { ...COMMON, "Cache-Control": "public, max-age=31536000, immutable" } }],
]);

/** The paths of the page's script and style (for tests and size figures). */
export const WEB_ASSETS = { html: "/", js: JS_PATH, css: CSS_PATH } as const;

/** The page's answer to a GET of `path`, or null when `path` is not one of its files. */
export function webRoute(path: string): HttpResponse | null {
  if (path === "/" || path === "/index.html") return PAGE;
  return ASSETS.get(path) ?? null;
}
