/** Load generation (autocannon, closed loop) and one-at-a-time timed requests (undici), with their statistics. */
import autocannon, { type AutocannonRequest } from 'autocannon';
import { Agent, request } from 'undici';

export interface LoadSpec {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
  /** One request template; setupRequest may vary path and body per request. */
  request: AutocannonRequest;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
}

/** A result with every latency, so that runs can be pooled. */
export interface RawLoad extends LoadResult {
  latencies: number[];
}

/** Pools several runs of one workload (e.g. the two halves of a paired baseline). */
export function pool(runs: RawLoad[]): RawLoad {
  const latencies = runs.flatMap((r) => r.latencies);
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const statuses: Record<string, number> = {};
  for (const r of runs) for (const [code, k] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + k;
  return {
    requests: latencies.length,
    seconds,
    reqPerSec: latencies.length / seconds,
    ...summarize(latencies),
    statuses,
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    latencies,
  };
}

/** The result without its raw latencies, for printing and JSON. */
export function strip(r: RawLoad): LoadResult {
  const { latencies: _omit, ...rest } = r;
  return rest;
}

/** The q-quantile (0..1) of a sorted list, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

export function summarize(latencies: number[]): { p50: number; p90: number; p99: number; max: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN };
}

/**
 * Runs autocannon for spec.duration seconds. Latencies are taken from each
 * response at full (sub-millisecond) precision rather than from autocannon's
 * whole-millisecond histogram, and include non-2xx answers.
 */
export function runLoad(spec: LoadSpec): Promise<RawLoad> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.duration,
        timeout: 30,
        headers: spec.headers,
        requests: [spec.request],
      },
      (err, result) => {
        if (err) return reject(err);
        const seconds = (performance.now() - t0) / 1000;
        let non2xx = 0;
        for (const [code, n] of Object.entries(statuses)) if (!code.startsWith('2')) non2xx += n;
        resolve({
          requests: latencies.length,
          seconds,
          reqPerSec: latencies.length / seconds,
          ...summarize(latencies),
          statuses,
          non2xx,
          errors: result.errors + result.timeouts,
          latencies,
        });
      },
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      latencies.push(ms);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
  });
}

export interface Timed {
  status: number;
  ms: number;
  bytes: number;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One connection, kept alive, for requests sent one after the other as an IdP does. */
export const serialAgent = new Agent({ connections: 1, keepAliveTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });

/** Sends one request and reads the whole answer; the time covers both. */
export async function timed(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, body?: unknown): Promise<Timed> {
  const t0 = performance.now();
  const res = await request(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    dispatcher: serialAgent,
  });
  const buf = Buffer.from(await res.body.arrayBuffer());
  const ms = performance.now() - t0;
  return { status: res.statusCode, ms, bytes: buf.length, text: buf.toString('utf8'), headers: res.headers };
}

/** Like timed(), but a non-2xx answer is an error carrying the start of the body. */
export async function timedOk(method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, headers: Record<string, string>, body?: unknown): Promise<Timed> {
  const r = await timed(method, url, headers, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${url} answered ${r.status}: ${r.text.slice(0, 300)}`);
  return r;
}
