/**
 * The page's only way to the data: the public REST API, as any client uses it. In prod the bearer
 * token lives in this module's memory only (never storage, never the URL), so a reload asks again.
 */
let token: string | null = null;

export function setToken(value: string | null): void {
  token = value;
}

/** An API answer other than 2xx: its status and the server's `{"error": …}` message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method: body === undefined ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, (data as { error?: string } | null)?.error ?? `${res.status} ${res.statusText}`);
  return data as T;
}

/** A query string from the defined values. */
export function qs(params: Record<string, string | number | boolean | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : "";
}

export interface Explanation {
  score: number;
  blocks: { interests: number; courses: number; assessments: number };
  residual: number;
  items: { item: string; block: string; contribution: number; shared: boolean }[];
  meaning: string;
}
export interface Neighbor {
  similar: string;
  score: number;
  explanation?: Explanation;
}
export interface Profile {
  user_handle: string;
  interests: string[];
  courses: Record<string, number>;
  assessments: Record<string, number>;
}
export interface Recommendations {
  kind: string;
  using: string;
  items: { item: string; score: number; votes: number; voters: { similar: string; score: number }[] }[];
}
export interface EpochStats {
  epoch: number;
  epochs: number;
  /** BPR only (ALS training reports neither). */
  learningRate?: number;
  loss: number;
  auc?: number;
}
export interface Run {
  id: number;
  method: string;
  params: Record<string, unknown>;
  startedAt: string;
  finishedAt: string;
  users: number;
  rows: number;
  stages: Record<string, number>;
  input: { sha256?: string } | null;
}
export interface TableInfo {
  table: string;
  run: Run | null;
  stale: boolean;
  epochs: EpochStats[] | null;
}
export interface Tables {
  served: string;
  input: string | null;
  tables: TableInfo[];
}
export interface Histogram {
  min: number;
  max: number;
  counts: number[];
}
export interface Histograms {
  table: string;
  users: number;
  top1: Histogram;
  top10: Histogram;
  overlap?: { compare: string; k: number; users: number; counts: number[]; mean: number };
}
