/**
 * Streamed CSV output in the real files' style (quoted header and strings, bare integers, LF)
 * and fast date formatting. Rows are appended as strings and written in ~1 MiB batches, so
 * memory stays bounded however many users are generated.
 */
import type { FileSink } from "bun";
import { writeFileSync } from "node:fs";

const BATCH_CHARS = 1 << 20;

/** An append-only CSV file that writes in batches. `drain()` applies backpressure. */
export class CsvSink {
  private readonly sink: FileSink;
  private parts: string[] = [];
  private chars = 0;
  /** Data rows written (header excluded). */
  rows = 0;

  constructor(path: string, header: readonly string[]) {
    // Bun's file writer does not truncate: a longer old file would leave its tail behind.
    writeFileSync(path, "");
    this.sink = Bun.file(path).writer({ highWaterMark: BATCH_CHARS * 2 });
    this.push(header.map((h) => `"${h}"`).join(",") + "\n");
  }

  /** Appends already formatted text (one or more complete lines). */
  push(text: string): void {
    this.parts.push(text);
    this.chars += text.length;
    if (this.chars >= BATCH_CHARS) this.spill();
  }

  private spill(): void {
    if (this.parts.length === 0) return;
    this.sink.write(this.parts.join(""));
    this.parts = [];
    this.chars = 0;
  }

  /** Waits until buffered bytes reach the file. */
  async drain(): Promise<void> {
    this.spill();
    await this.sink.flush();
  }

  async close(): Promise<void> {
    this.spill();
    await this.sink.end();
  }
}

const DAY_MS = 86_400_000;

/** Days since 1970-01-01 (UTC) of a calendar date. */
export function dayNumber(y: number, m: number, d: number): number {
  return Date.UTC(y, m - 1, d) / DAY_MS;
}

const dayCache = new Map<number, string>();

/** `YYYY-MM-DD` of a day number (cached: the generator uses a few hundred distinct days). */
export function formatDay(day: number): string {
  let s = dayCache.get(day);
  if (s === undefined) {
    s = new Date(day * DAY_MS).toISOString().slice(0, 10);
    dayCache.set(day, s);
  }
  return s;
}

const TWO = Array.from({ length: 60 }, (_, i) => (i < 10 ? `0${i}` : `${i}`));

/** `YYYY-MM-DD HH:MM:SS` of whole seconds since the epoch (UTC). */
export function formatDateTime(seconds: number): string {
  const day = Math.floor(seconds / 86400);
  let s = seconds - day * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  return `${formatDay(day)} ${TWO[h]}:${TWO[m]}:${TWO[s - m * 60]}`;
}
