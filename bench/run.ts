/**
 * `npm run bench`: seeds a large organization and measures the SCIM service
 * against a plain Fastify baseline measured in the same run, on loopback only.
 *
 *   npm run bench                      100,000 users, 10 s per workload, 10 connections
 *   npm run bench -- --quick           10,000 users, smaller groups, 3 s per workload
 *   npm run bench -- --duration 20 --connections 16
 *   npm run bench -- --store postgres  SQLite (100,000 users) and PostgreSQL (1,000,000 users) side by side
 *
 * The service and the baseline each run in a child process under
 * `node --import tsx`; the load generator (autocannon) runs here. Each load
 * workload is paired with a baseline run (half before, half after it) and
 * reported as a ratio, since the machines are shared and noisy. At the end a
 * second service, seeded alike with the provisioning log off, runs the four
 * user workloads interleaved with the first (the log's cost).
 *
 * With --store postgres a second service runs on a fresh PostgreSQL database
 * (plumm_bench_<random>, made through PLUMM_BENCH_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/test, and dropped at the end; the
 * service's pool is PG_POOL_SIZE, default 10), seeded with 1,000,000 users
 * (quick: 20,000). Each workload runs on SQLite then on PostgreSQL, back to
 * back, each with its own paired baseline, and one table shows both; the log
 * cost section is left out. Results
 * go to stdout as a table and to .tmp/bench-latest.json. The exit code is 1
 * when any request of a workload that should only succeed did not.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { ReadyMessage, SeedSpec } from './server.js';
import { seededUserName, userBody } from './data.js';
import { type LoadResult, type RawLoad, pool, runLoad, serialAgent, strip, summarize, timed, timedOk } from './load.js';

// ---------------------------------------------------------------- options

type StoreName = 'sqlite' | 'postgres';

interface Options {
  quick: boolean;
  duration: number;
  connections: number;
  /** sqlite: the SQLite service alone; postgres: SQLite and PostgreSQL side by side. */
  store: StoreName;
}

const USAGE = `usage: npm run bench -- [--quick] [--duration <seconds>] [--connections <n>] [--store sqlite|postgres]`;

function usageError(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  let quick = false;
  let duration: number | undefined;
  let connections = 10;
  let store = 'sqlite';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usageError(`${flag} needs a value`);
      return v;
    };
    const positiveInt = (v: string, max: number) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max) usageError(`${flag} takes a whole number from 1 to ${max}, not "${v}"`);
      return n;
    };
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--duration':
        duration = positiveInt(value(), 120);
        break;
      case '--connections':
        connections = positiveInt(value(), 256);
        break;
      case '--store':
        store = value().toLowerCase();
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
      default:
        usageError(`unknown option "${arg}"`);
    }
  }
  if (store === 'postgresql') store = 'postgres';
  if (store !== 'sqlite' && store !== 'postgres') usageError(`--store takes sqlite or postgres, not "${store}"`);
  return { quick, duration: duration ?? (quick ? 3 : 10), connections, store };
}

const opts = parseArgs(process.argv.slice(2));

interface Plan {
  users: number;
  smallGroup: number;
  addTotal: number;
  addBatch: number;
  removals: number;
  fullRemovals: number;
  /** GETs of the all-users group with its members. */
  fullGets: number;
  warmup: number;
}

/** Sizes of the run (SQLite). */
const plan: Plan = opts.quick
  ? { users: 10_000, smallGroup: 1_000, addTotal: 3_000, addBatch: 1_000, removals: 20, fullRemovals: 5, fullGets: 3, warmup: 1 }
  : { users: 100_000, smallGroup: 1_000, addTotal: 10_000, addBatch: 1_000, removals: 50, fullRemovals: 10, fullGets: 3, warmup: 2 };

/** Sizes of the PostgreSQL organization: ten times SQLite's in a full run; one GET of the whole all-users group (its answer is ~180 MB at a million). */
const pgPlan: Plan = opts.quick
  ? { ...plan, users: 20_000, fullGets: 2 }
  : { ...plan, users: 1_000_000, fullGets: 1 };

/** The administration database the bench makes its own PostgreSQL database from. */
const PG_ADMIN_URL = process.env.PLUMM_BENCH_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
/** PostgreSQL connections of the service under test. */
const PG_POOL_SIZE = Number(process.env.PG_POOL_SIZE || 10);
if (!Number.isInteger(PG_POOL_SIZE) || PG_POOL_SIZE < 1) usageError(`PG_POOL_SIZE must be a whole number from 1, not "${process.env.PG_POOL_SIZE}"`);

/** The whole run is bounded; past this it stops itself. Seeding a million rows and measuring both stores takes longer. */
const WATCHDOG_MS = (opts.store === 'postgres' ? 15 : 9) * 60_000;

// ---------------------------------------------------------------- output

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const fmtInt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
const kib = (bytes: number) => `${fmt(bytes / 1024, bytes < 10 * 1024 ? 1 : 0)} KiB`;

function table(headers: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => cells.map((cell, c) => (rightAlign[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- children

const here = fileURLToPath(new URL('.', import.meta.url));
const children = new Set<ChildProcess>();

/** Forks a bench entry under `node --import tsx` and waits for its ready message. */
function startChild<T extends { type: string }>(file: string, args: string[], timeoutMs: number): Promise<{ child: ChildProcess; ready: T }> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, file), args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} was not ready within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const onMessage = (msg: T) => {
      if (msg?.type !== 'ready') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve({ child, ready: msg });
    };
    child.on('message', onMessage);
    child.once('exit', (code, signal) => {
      children.delete(child);
      clearTimeout(timer);
      reject(new Error(`${file} exited (code ${code}, signal ${signal}) before it was ready`));
    });
  });
}

/** Asks a child to stop, and kills it if it has not within a few seconds. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(timer);
      children.delete(child);
      resolve();
    });
    if (child.connected) child.send({ type: 'stop' });
    else child.kill('SIGTERM');
  });
}

function childRss(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(NaN), 2_000);
    const onMessage = (msg: { type?: string; rss?: number }) => {
      if (msg?.type !== 'rss') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(msg.rss ?? NaN);
    };
    child.on('message', onMessage);
    child.send({ type: 'rss' });
  });
}

// ---------------------------------------------------------------- workloads

interface LoadRow extends LoadResult {
  store: StoreName;
  name: string;
  description: string;
  /** The baseline measured around this workload: half its duration just before, half just after. */
  baseline: LoadResult;
  /** This workload's req/s over its paired baseline's. */
  ratio: number;
}

const failures: string[] = [];

function checkAllOk(name: string, r: LoadResult): void {
  if (r.non2xx > 0 || r.errors > 0) {
    const codes = Object.entries(r.statuses)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, n]) => `${n}×${code}`)
      .join(', ');
    failures.push(`${name}: ${r.non2xx} non-2xx answers${codes ? ` (${codes})` : ''}, ${r.errors} connection errors or timeouts`);
  }
}

const randInt = (n: number) => Math.floor(Math.random() * n);

/** One service under test: its store, sizes and seeded organization. */
interface Target {
  store: StoreName;
  plan: Plan;
  spec: SeedSpec;
  child: ChildProcess;
  s: ReadyMessage;
  scim: string;
  auth: Record<string, string>;
  jsonHeaders: Record<string, string>;
}

type Request = Parameters<typeof runLoad>[0]['request'];
interface Workload {
  /** The same for both stores, to line them up. */
  key: string;
  name: string;
  description: string;
  request: Request;
  headers: Record<string, string>;
}

/** The load workloads, as built for one service. */
function loadWorkloads(t: Target, runTag: string): Workload[] {
  const { s, auth, jsonHeaders } = t;
  const n = s.userIds.length;
  let created = 0;
  let patched = 0;
  const patchOffset = randInt(n);
  const deactivate = JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
  return [
    // Issue 2: users.
    {
      key: 'filter',
      name: 'users: filter userName eq',
      description: 'GET /Users?filter=userName eq "<random seeded user>"',
      request: { method: 'GET', setupRequest: (req) => ({ ...req, path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${seededUserName(randInt(n))}"`)}` }) },
      headers: auth,
    },
    {
      key: 'page',
      name: 'users: page of 100',
      description: 'GET /Users?startIndex=<random>&count=100',
      request: { method: 'GET', setupRequest: (req) => ({ ...req, path: `/scim/v2/Users?startIndex=${1 + randInt(n - 99)}&count=100` }) },
      headers: auth,
    },
    {
      key: 'create',
      name: 'users: create',
      description: 'POST /Users (unique userNames)',
      request: {
        method: 'POST',
        setupRequest: (req) => {
          const k = created++;
          return { ...req, path: '/scim/v2/Users', body: JSON.stringify(userBody(`bench.new.${runTag}.${k}@example.com`, k)) };
        },
      },
      headers: jsonHeaders,
    },
    {
      key: 'patch',
      name: 'users: PATCH deactivate',
      description: 'PATCH /Users/<varying id> {replace active false}',
      request: { method: 'PATCH', setupRequest: (req) => ({ ...req, path: `/scim/v2/Users/${s.userIds[(patchOffset + patched++) % n]}`, body: deactivate }) },
      headers: jsonHeaders,
    },
    // Issue 3 (b): reading a group without its members must not depend on its size.
    {
      key: 'groupSmall',
      name: `groups: GET ${fmtInt(t.plan.smallGroup)} members, excl.`,
      description: `GET /Groups/<id>?excludedAttributes=members (${fmtInt(t.plan.smallGroup)} members)`,
      request: { method: 'GET', path: `/scim/v2/Groups/${s.groups.small}?excludedAttributes=members` },
      headers: auth,
    },
    {
      key: 'groupLarge',
      name: `groups: GET ${fmtInt(s.largeGroupSize)} members, excl.`,
      description: `GET /Groups/<id>?excludedAttributes=members (${fmtInt(s.largeGroupSize)} members)`,
      request: { method: 'GET', path: `/scim/v2/Groups/${s.groups.large}?excludedAttributes=members` },
      headers: auth,
    },
  ];
}

interface SerialResult {
  adds: AddResult[];
  removeExcl: Awaited<ReturnType<typeof removals>>;
  removeFull: Awaited<ReturnType<typeof removals>>;
  fullGets: { ms: number; bytes: number }[];
  rssAfterLoad: number;
  rssEnd: number;
}

/** Makes an empty PostgreSQL database for the service; dropped at the end of the run. */
async function createPgDatabase(): Promise<string> {
  const name = `plumm_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (err) {
    throw new Error(`could not create a PostgreSQL database on ${PG_ADMIN_URL.replace(/\/\/[^@/]*@/, '//…@')} (set PLUMM_BENCH_PG_URL): ${err instanceof Error ? err.message : err}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  cleanups.push(async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5_000 });
    try {
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end().catch(() => undefined);
    }
  });
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

async function startTarget(store: StoreName, p: Plan, tmp: string): Promise<Target> {
  const spec: SeedSpec =
    store === 'sqlite'
      ? { databaseUrl: join(tmp, 'bench.db'), users: p.users, smallGroup: p.smallGroup, batch: 5_000 }
      : { databaseUrl: await createPgDatabase(), users: p.users, smallGroup: p.smallGroup, batch: 5_000, pgBatch: 5_000, pgPoolSize: PG_POOL_SIZE };
  log(`${store}: seeding ${fmtInt(p.users)} users and groups of ${fmtInt(p.smallGroup)} and ${fmtInt(p.users)} members…`);
  const { child, ready: s } = await startChild<ReadyMessage>('server.ts', [JSON.stringify(spec)], 10 * 60_000);
  log(
    `${store}: seeded in ${fmt(s.seedMs.total / 1000)} s (users ${fmt(s.seedMs.users / 1000)} s = ${fmtInt(p.users / (s.seedMs.users / 1000))} users/s, groups ${fmt(s.seedMs.groups / 1000)} s` +
      `${s.seedMs.vacuum !== undefined ? `, VACUUM ANALYZE ${fmt(s.seedMs.vacuum / 1000)} s` : ''}); service at ${s.url}`,
  );
  if (s.store !== store) throw new Error(`the ${store} service reports store ${s.store}`);
  const auth = { authorization: `Bearer ${s.token}`, accept: 'application/scim+json' };
  const t: Target = { store, plan: p, spec, child, s, scim: `${s.url}/scim/v2`, auth, jsonHeaders: { ...auth, 'content-type': 'application/scim+json' } };
  await preflight(t.scim, t.auth, t.jsonHeaders, s, p);
  return t;
}

async function main(): Promise<void> {
  const watchdog = setTimeout(() => {
    log(`still running after ${WATCHDOG_MS / 60_000} minutes: stopping`);
    void shutdown(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  const runStarted = Date.now();
  const sideBySide = opts.store === 'postgres';
  log(
    `${opts.quick ? 'quick' : 'full'} run: ${sideBySide ? `SQLite ${fmtInt(plan.users)} users and PostgreSQL ${fmtInt(pgPlan.users)} users side by side` : `${fmtInt(plan.users)} users, store sqlite`}, ` +
      `${opts.duration} s per workload (+${plan.warmup} s warm-up), ${opts.connections} connections`,
  );

  const tmp = mkdtempSync(join(tmpdir(), 'plumm-scim-bench-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));

  // Baseline first, so seeding does not overlap it.
  const baseline = await startChild<{ type: 'ready'; url: string }>('baseline.ts', [], 60_000);

  // One service after the other, so that seedings do not overlap.
  const targets: Target[] = [await startTarget('sqlite', plan, tmp)];
  if (sideBySide) targets.push(await startTarget('postgres', pgPlan, tmp));
  const runTag = Date.now().toString(36);

  const rows: LoadRow[] = [];
  const baselineRuns: RawLoad[] = [];
  const ping = { method: 'GET', path: '/ping' };
  const loadBaseline = (duration: number) => runLoad({ url: baseline.ready.url, connections: opts.connections, duration, request: ping });

  /**
   * Measures one workload against a baseline paired with it: baseline for
   * half the duration, the workload for the full duration, baseline for the
   * other half. Noise that drifts slowly over the three cancels in the ratio.
   */
  async function measure(t: Target, w: Workload): Promise<LoadRow> {
    const label = sideBySide ? `${t.store}, ${w.name}` : w.name;
    const url = t.s.url;
    log(`${label}: warm-up ${plan.warmup} s, then baseline ${opts.duration / 2} s, workload ${opts.duration} s, baseline ${opts.duration / 2} s…`);
    const warm = await runLoad({ url, connections: opts.connections, duration: plan.warmup, headers: w.headers, request: w.request });
    checkAllOk(`${label} (warm-up)`, warm);
    const before = await loadBaseline(opts.duration / 2);
    const r = await runLoad({ url, connections: opts.connections, duration: opts.duration, headers: w.headers, request: w.request });
    const after = await loadBaseline(opts.duration / 2);
    checkAllOk(label, r);
    checkAllOk(`${label} (baseline)`, pool([before, after]));
    baselineRuns.push(before, after);
    const base = pool([before, after]);
    const row: LoadRow = { store: t.store, name: w.name, description: w.description, ...strip(r), baseline: strip(base), ratio: r.reqPerSec / base.reqPerSec };
    rows.push(row);
    log(`${label}: ${fmtInt(r.reqPerSec)} req/s, p99 ${fmt(r.p99, 2)} ms; baseline ${fmtInt(base.reqPerSec)} req/s, p99 ${fmt(base.p99, 2)} ms${r.non2xx + r.errors > 0 ? `; ${r.non2xx} non-2xx, ${r.errors} errors` : ''}`);
    return row;
  }

  log(`baseline warm-up ${plan.warmup} s…`);
  checkAllOk('baseline (warm-up)', await loadBaseline(plan.warmup));

  // Each workload on every store, back to back, so that drift of the machine falls on all alike.
  const workloads = targets.map((t) => loadWorkloads(t, runTag));
  const byKey = new Map<string, LoadRow[]>();
  for (let i = 0; i < workloads[0].length; i++) {
    const measured: LoadRow[] = [];
    for (let k = 0; k < targets.length; k++) measured.push(await measure(targets[k], workloads[k][i]));
    byKey.set(workloads[0][i].key, measured);
  }

  const allBaseline = pool(baselineRuns);
  const rssAfterLoad = await Promise.all(targets.map((t) => childRss(t.child)));

  // One-at-a-time latency of the baseline, to set the serial group figures against.
  const pingSerial: number[] = [];
  for (let i = 0; i < 200; i++) pingSerial.push((await timedOk('GET', `${baseline.ready.url}/ping`, {})).ms);
  const pingSerialStats = summarize(pingSerial);

  const serial: SerialResult[] = [];
  for (const [k, t] of targets.entries()) {
    const { s, plan: p } = t;
    const n = s.userIds.length;
    const tag = sideBySide ? `${t.store}: ` : '';
    // Issue 3 (a): Entra-style adds, 1,000 members a PATCH, one PATCH after the other.
    const adds = await addMembers(t.scim, t.jsonHeaders, s, runTag, p, tag);
    // Issue 3 (c): removing one member of the largest group.
    log(`${tag}groups: ${p.removals} removals of one member from the ${fmtInt(s.largeGroupSize)}-member group (?excludedAttributes=members)…`);
    const removeExcl = await removals(t.scim, t.jsonHeaders, s.groups.large, s.userIds.slice(n - p.removals), '?excludedAttributes=members');
    log(`${tag}groups: ${p.fullRemovals} removals as an IdP sends them (no query)…`);
    const removeFull = await removals(t.scim, t.jsonHeaders, s.groups.large, s.userIds.slice(n - p.removals - p.fullRemovals, n - p.removals), '');
    log(`${tag}groups: GET the ${fmtInt(s.largeGroupSize)}-member group with its members, ×${p.fullGets}…`);
    const fullGets: { ms: number; bytes: number }[] = [];
    for (let i = 0; i < p.fullGets; i++) {
      const r = await timedOk('GET', `${t.scim}/Groups/${s.groups.large}`, t.auth);
      fullGets.push({ ms: r.ms, bytes: r.bytes });
    }
    serial.push({ adds, removeExcl, removeFull, fullGets, rssAfterLoad: rssAfterLoad[k], rssEnd: await childRss(t.child) });
  }

  // Provisioning log cost: the same four user workloads against a second
  // SQLite service, seeded the same way with the log off, interleaved per
  // workload. Not in the side-by-side run, which is long enough already.
  const logCost = sideBySide ? undefined : await provisioningLogCost(targets[0].s, tmp, runTag);

  // ------------------------------------------------------------ report
  const out: string[] = [];
  const seedLine = (t: Target) => {
    const ms = t.s.seedMs;
    return (
      `${fmtInt(t.plan.users)} users in ${fmt(ms.users / 1000)} s (${fmtInt(t.plan.users / (ms.users / 1000))} users/s, ${t.s.seedMethod}), ` +
      `groups of ${fmtInt(t.plan.smallGroup)} and ${fmtInt(t.s.largeGroupSize)} members in ${fmt(ms.groups / 1000)} s` +
      (ms.vacuum !== undefined ? `, VACUUM ANALYZE ${fmt(ms.vacuum / 1000)} s; ${fmt(ms.total / 1000)} s in all` : '')
    );
  };
  out.push('');
  if (sideBySide) {
    out.push(
      `plumm-scim bench — ${opts.quick ? 'quick' : 'full'} run, SQLite (${fmtInt(plan.users)} seeded users) and PostgreSQL (${fmtInt(pgPlan.users)} seeded users, PG_POOL_SIZE ${PG_POOL_SIZE}) side by side, ` +
        `${opts.connections} connections, ${opts.duration} s per workload`,
    );
  } else {
    out.push(`plumm-scim bench — ${opts.quick ? 'quick' : 'full'} run, store sqlite, ${fmtInt(plan.users)} seeded users, ${opts.connections} connections, ${opts.duration} s per workload`);
  }
  out.push(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); servers and baseline each in a child process, load generator (autocannon) in the parent${sideBySide ? '; PostgreSQL on the same machine' : ''}`);
  out.push('service at its defaults (provisioning log on), except the per-token rate limit, raised out of reach (the limiter still runs)');
  for (const t of targets) out.push(`seeding ${sideBySide ? `${t.store}: ` : ''}${seedLine(t)}`);
  out.push('');
  out.push('Load (closed loop). Each workload has its own baseline (plain Fastify GET /ping), run half just before it and half just after;');
  out.push(`ratio = workload req/s ÷ that baseline req/s.${sideBySide ? ' Each workload ran on SQLite, then on PostgreSQL, back to back.' : ''}`);
  if (!sideBySide) {
    const rowsOut = rows.map((r) => [r.name, fmtInt(r.reqPerSec), fmt(r.p50, 2), fmt(r.p99, 2), fmtInt(r.baseline.reqPerSec), fmt(r.baseline.p99, 2), `${fmt(r.ratio, 3)}×`]);
    out.push(table(['workload', 'req/s', 'p50 ms', 'p99 ms', 'base req/s', 'base p99', 'ratio'], rowsOut, [false, true, true, true, true, true, true]));
  } else {
    const label = (key: string, name: string) =>
      key === 'groupLarge' ? 'groups: GET all-users group, excl.' : name;
    const rowsOut = [...byKey.entries()].map(([key, [a, b]]) => [
      label(key, a.name),
      fmtInt(a.reqPerSec),
      fmt(a.p99, 2),
      `${fmt(a.ratio, 3)}×`,
      fmtInt(b.reqPerSec),
      fmt(b.p99, 2),
      `${fmt(b.ratio, 3)}×`,
      `${fmt(b.reqPerSec / a.reqPerSec, 2)}×`,
    ]);
    out.push(
      table(
        ['workload', 'sqlite req/s', 'p99 ms', 'ratio', 'postgres req/s', 'p99 ms', 'ratio', 'pg/sqlite'],
        rowsOut,
        [false, true, true, true, true, true, true, true],
      ),
    );
    out.push(`(all-users group: ${fmtInt(targets[0].s.largeGroupSize)} members on SQLite, ${fmtInt(targets[1].s.largeGroupSize)} on PostgreSQL; pg/sqlite = PostgreSQL req/s ÷ SQLite req/s)`);
  }
  const baseRates = baselineRuns.map((r) => r.reqPerSec);
  out.push(`baseline over the run: ${fmtInt(allBaseline.reqPerSec)} req/s, p99 ${fmt(allBaseline.p99, 2)} ms; its halves ranged ${fmtInt(Math.min(...baseRates))}–${fmtInt(Math.max(...baseRates))} req/s (the machine's noise)`);
  out.push('');
  for (const [k, t] of targets.entries()) {
    const [small, large] = [byKey.get('groupSmall')![k], byKey.get('groupLarge')![k]];
    out.push(
      `Groups${sideBySide ? ` (${t.store})` : ''}, excludedAttributes=members: p99 ${fmt(small.p99, 2)} ms at ${fmtInt(t.plan.smallGroup)} members vs ${fmt(large.p99, 2)} ms at ${fmtInt(t.s.largeGroupSize)} members ` +
        `(${fmt(large.p99 / small.p99, 2)}×); req/s vs baseline ${fmt(small.ratio, 3)}× vs ${fmt(large.ratio, 3)}× (${fmt(large.ratio / small.ratio, 2)}×)`,
    );
  }
  out.push('');
  out.push(`Groups, one request at a time (one keep-alive connection; serial baseline GET /ping p50 ${fmt(pingSerialStats.p50, 2)} ms, p99 ${fmt(pingSerialStats.p99, 2)} ms):`);
  const serialRows: string[][] = [];
  for (const [k, t] of targets.entries()) {
    const { adds, removeExcl, removeFull, fullGets } = serial[k];
    const p = t.plan;
    const size = t.s.largeGroupSize;
    const row = (cells: string[]) => serialRows.push(sideBySide ? [t.store, ...cells] : cells);
    for (const a of adds) {
      row([
        `add ${fmtInt(p.addTotal)} members, ${fmtInt(p.addBatch)}/PATCH${a.query ? ' (excl.)' : ''}`,
        `${fmtInt(a.membersPerSec)} members/s`,
        fmt(a.stats.p50, 1),
        `slowest batch ${fmt(a.stats.max, 1)}`,
        `last answer ${kib(a.lastBytes)}`,
      ]);
    }
    for (const [label, r] of [
      [`remove 1 of ${fmtInt(size)} (excl.), ×${p.removals}`, removeExcl],
      [`remove 1 of ${fmtInt(size)} (IdP style), ×${p.fullRemovals}`, removeFull],
    ] as const) {
      row([label, `${fmt(r.perSec, 1)} PATCH/s`, fmt(r.stats.p50, 1), `p99 ${fmt(r.stats.p99, 1)}`, `answer ${kib(r.bytes)}`]);
    }
    const fullGetStats = summarize(fullGets.map((g) => g.ms));
    row([`GET ${fmtInt(size)}-member group with members, ×${fullGets.length}`, '', fmt(fullGetStats.p50, 1), `max ${fmt(fullGetStats.max, 1)}`, `answer ${kib(fullGets[0]?.bytes ?? NaN)}`]);
  }
  const serialHeaders = ['operation', 'rate', 'p50 ms', 'tail ms', 'size'];
  out.push(table(sideBySide ? ['store', ...serialHeaders] : serialHeaders, serialRows, [...(sideBySide ? [false] : []), false, true, true, true, true]));
  if (logCost) {
    out.push('');
    out.push(`Provisioning log cost (log on = the service above; log off = a second service, PROVISIONING_LOG=off, seeded alike with ${fmtInt(logCost.seed.users)} users in ${fmt(logCost.seed.ms.users / 1000)} s);`);
    out.push(`each workload measured on then off back to back, ${plan.warmup} s warm-up + ${opts.duration} s each; ratio = on req/s ÷ off req/s (goal: ≥ 0.9):`);
    out.push(
      table(
        ['workload', 'req/s on', 'req/s off', 'on/off', 'p99 on', 'p99 off'],
        logCost.rows.map((r) => [r.name, fmtInt(r.on.reqPerSec), fmtInt(r.off.reqPerSec), `${fmt(r.ratio, 3)}×`, fmt(r.on.p99, 2), fmt(r.off.p99, 2)]),
        [false, true, true, true, true, true],
      ),
    );
  } else {
    out.push('');
    out.push('(provisioning log cost: not measured in the side-by-side run; run npm run bench for it)');
  }
  out.push('');
  for (const [k, t] of targets.entries()) {
    out.push(`server RSS${sideBySide ? ` (${t.store})` : ''}: ${fmt(serial[k].rssAfterLoad / 2 ** 20, 0)} MiB after the load workloads, ${fmt(serial[k].rssEnd / 2 ** 20, 0)} MiB at the end`);
  }
  out.push(`total time ${fmt((Date.now() - runStarted) / 1000)} s`);
  if (failures.length > 0) {
    out.push('');
    out.push('FAILED: requests that should all succeed did not:');
    for (const f of failures) out.push(`  - ${f}`);
  }
  process.stdout.write(out.join('\n') + '\n');

  const storeResults = targets.map((t, k) => {
    const { adds, removeExcl, removeFull, fullGets } = serial[k];
    const [small, large] = [byKey.get('groupSmall')![k], byKey.get('groupLarge')![k]];
    const p = t.plan;
    return {
      store: t.store,
      seed: { users: p.users, smallGroup: p.smallGroup, largeGroup: t.s.largeGroupSize, ms: t.s.seedMs, method: t.s.seedMethod, ...(t.store === 'postgres' ? { pgPoolSize: PG_POOL_SIZE } : {}) },
      load: rows.filter((r) => r.store === t.store),
      groups: {
        getExcludedMembers: {
          small: { members: p.smallGroup, p99: small.p99, reqPerSec: small.reqPerSec, ratio: small.ratio },
          large: { members: t.s.largeGroupSize, p99: large.p99, reqPerSec: large.reqPerSec, ratio: large.ratio },
          p99Ratio: large.p99 / small.p99,
        },
        add: adds.map((a) => ({ query: a.query, members: p.addTotal, batch: p.addBatch, membersPerSec: a.membersPerSec, slowestBatchMs: a.stats.max, batchMs: a.batches, lastAnswerBytes: a.lastBytes })),
        removeOne: {
          excludedMembers: { count: p.removals, ...removeExcl.stats, answerBytes: removeExcl.bytes },
          idpStyle: { count: p.fullRemovals, ...removeFull.stats, answerBytes: removeFull.bytes },
        },
        getLargeWithMembers: { ...summarize(fullGets.map((g) => g.ms)), bytes: fullGets[0]?.bytes },
      },
      serverRssBytes: { afterLoad: serial[k].rssAfterLoad, end: serial[k].rssEnd },
    };
  });
  const results = {
    date: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    options: opts,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model },
    baseline: { overall: strip(allBaseline), halvesReqPerSec: baselineRuns.map((r) => r.reqPerSec), serialPingMs: pingSerialStats },
    // The SQLite service's figures at the top level, as before; every store's under `stores`.
    ...storeResults[0],
    stores: storeResults,
    provisioningLogCost: logCost ?? null,
    failures,
  };
  const resultsDir = fileURLToPath(new URL('../.tmp/', import.meta.url));
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'bench-latest.json'), JSON.stringify(results, null, 2) + '\n');
  log(`results written to .tmp/bench-latest.json`);

  await shutdown(failures.length > 0 ? 1 : 0);
}

/** Checks that each workload's request does what it claims before loading it. */
async function preflight(scim: string, auth: Record<string, string>, jsonHeaders: Record<string, string>, s: ReadyMessage, p: Plan = plan): Promise<void> {
  const n = s.userIds.length;
  const i = n - 1;
  const first = await timedOk('GET', `${scim}/Users?filter=${encodeURIComponent(`userName eq "${seededUserName(i)}"`)}`, auth);
  // The server was started with the per-token rate limit raised out of reach; a lower one would turn the load into 429s.
  const limit = Number(first.headers['x-ratelimit-limit']);
  if (Number.isFinite(limit) && limit < 1_000_000) throw new Error(`preflight: the SCIM rate limit is ${limit} a minute; the bench needs it raised (SCIM_RATE_LIMIT_PER_MINUTE)`);
  const filtered = JSON.parse(first.text);
  if (filtered.totalResults !== 1 || filtered.Resources?.[0]?.id !== s.userIds[i]) throw new Error(`preflight: filter on ${seededUserName(i)} found ${filtered.totalResults} users`);
  const page = JSON.parse((await timedOk('GET', `${scim}/Users?startIndex=${n - 99}&count=100`, auth)).text);
  if (page.itemsPerPage !== 100 || page.totalResults !== n) throw new Error(`preflight: last page had ${page.itemsPerPage} of ${page.totalResults} users`);
  const group = JSON.parse((await timedOk('GET', `${scim}/Groups/${s.groups.small}?excludedAttributes=members`, auth)).text);
  if (group.members !== undefined || group.id !== s.groups.small) throw new Error('preflight: excludedAttributes=members still returned members');
  const withMembers = JSON.parse((await timedOk('GET', `${scim}/Groups/${s.groups.small}`, auth)).text);
  if (withMembers.members?.length !== p.smallGroup) throw new Error(`preflight: small group has ${withMembers.members?.length} members`);
}

interface LogCostRow {
  name: string;
  description: string;
  on: LoadResult;
  off: LoadResult;
  /** req/s with the log on over req/s with it off. */
  ratio: number;
}

/**
 * Starts a second service with the provisioning log off, seeded like the
 * first (`on`), and measures the four user workloads against both: for each,
 * the log-on service then the log-off one, back to back, so that drift of
 * the machine falls on both alike. The second service is stopped at the end.
 */
async function provisioningLogCost(on: ReadyMessage, tmp: string, runTag: string) {
  const spec: SeedSpec = { databaseUrl: join(tmp, 'bench-log-off.db'), users: plan.users, smallGroup: plan.smallGroup, batch: 5_000, provisioningLog: false };
  log(`log cost: seeding a second service with the provisioning log off (${fmtInt(plan.users)} users)…`);
  const offChild = await startChild<ReadyMessage>('server.ts', [JSON.stringify(spec)], 5 * 60_000);
  try {
    const off = offChild.ready;
    if (off.provisioningLog !== false || on.provisioningLog !== true) {
      throw new Error(`log cost: expected the provisioning log on then off, the services report ${on.provisioningLog} and ${off.provisioningLog}`);
    }
    log(`log cost: seeded in ${fmt(off.seedMs.total / 1000)} s; service (log off) at ${off.url}`);
    const headersOf = (srv: ReadyMessage) => {
      const auth = { authorization: `Bearer ${srv.token}`, accept: 'application/scim+json' };
      return { auth, json: { ...auth, 'content-type': 'application/scim+json' } };
    };
    await preflight(`${off.url}/scim/v2`, headersOf(off).auth, headersOf(off).json, off);

    const deactivate = JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
    /** The four user workloads, as built for one service. */
    const workloads = (srv: ReadyMessage, tag: string): { name: string; description: string; request: Request; headers: Record<string, string> }[] => {
      const n = srv.userIds.length;
      const { auth, json } = headersOf(srv);
      let created = 0;
      let patched = 0;
      const patchOffset = randInt(n);
      return [
        {
          name: 'users: filter userName eq',
          description: 'GET /Users?filter=userName eq "<random seeded user>"',
          request: { method: 'GET', setupRequest: (req) => ({ ...req, path: `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${seededUserName(randInt(n))}"`)}` }) },
          headers: auth,
        },
        {
          name: 'users: page of 100',
          description: 'GET /Users?startIndex=<random>&count=100',
          request: { method: 'GET', setupRequest: (req) => ({ ...req, path: `/scim/v2/Users?startIndex=${1 + randInt(n - 99)}&count=100` }) },
          headers: auth,
        },
        {
          name: 'users: create',
          description: 'POST /Users (unique userNames)',
          request: {
            method: 'POST',
            setupRequest: (req) => {
              const k = created++;
              return { ...req, path: '/scim/v2/Users', body: JSON.stringify(userBody(`bench.logcost.${tag}.${runTag}.${k}@example.com`, k)) };
            },
          },
          headers: json,
        },
        {
          name: 'users: PATCH deactivate',
          description: 'PATCH /Users/<varying id> {replace active false}',
          request: { method: 'PATCH', setupRequest: (req) => ({ ...req, path: `/scim/v2/Users/${srv.userIds[(patchOffset + patched++) % n]}`, body: deactivate }) },
          headers: json,
        },
      ];
    };

    const measureOn = async (srv: ReadyMessage, label: string, w: ReturnType<typeof workloads>[number]): Promise<LoadResult> => {
      const warm = await runLoad({ url: srv.url, connections: opts.connections, duration: plan.warmup, headers: w.headers, request: w.request });
      checkAllOk(`${w.name}, log ${label} (warm-up)`, warm);
      const r = await runLoad({ url: srv.url, connections: opts.connections, duration: opts.duration, headers: w.headers, request: w.request });
      checkAllOk(`${w.name}, log ${label}`, r);
      return strip(r);
    };

    const onWorkloads = workloads(on, 'on');
    const offWorkloads = workloads(off, 'off');
    const rows: LogCostRow[] = [];
    for (let i = 0; i < onWorkloads.length; i++) {
      const { name, description } = onWorkloads[i];
      log(`log cost, ${name}: log on then log off, ${plan.warmup} s warm-up + ${opts.duration} s each…`);
      const rOn = await measureOn(on, 'on', onWorkloads[i]);
      const rOff = await measureOn(off, 'off', offWorkloads[i]);
      const row: LogCostRow = { name, description, on: rOn, off: rOff, ratio: rOn.reqPerSec / rOff.reqPerSec };
      rows.push(row);
      log(`log cost, ${name}: on ${fmtInt(rOn.reqPerSec)} req/s (p99 ${fmt(rOn.p99, 2)} ms), off ${fmtInt(rOff.reqPerSec)} req/s (p99 ${fmt(rOff.p99, 2)} ms), on/off ${fmt(row.ratio, 3)}×`);
    }
    return { seed: { users: plan.users, ms: off.seedMs }, rows };
  } finally {
    await stopChild(offChild.child);
  }
}

interface AddResult {
  query: string;
  batches: number[];
  stats: ReturnType<typeof summarize>;
  membersPerSec: number;
  lastBytes: number;
}

/**
 * Adds plan.addTotal members to an empty group in PATCHes of plan.addBatch,
 * as Entra does: once as sent by IdPs (the answer is the whole group) and
 * once asking for the group without members, to tell writing from rendering.
 */
async function addMembers(scim: string, jsonHeaders: Record<string, string>, s: ReadyMessage, runTag: string, plan: Plan, tag = ''): Promise<AddResult[]> {
  const second = JSON.parse(
    (await timedOk('POST', `${scim}/Groups`, jsonHeaders, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: `Bench Entra target 2 ${runTag}` })).text,
  );
  const out: AddResult[] = [];
  for (const [groupId, query] of [
    [s.groups.target, ''],
    [second.id as string, '?excludedAttributes=members'],
  ] as const) {
    log(`${tag}groups: adding ${fmtInt(plan.addTotal)} members in PATCHes of ${fmtInt(plan.addBatch)}${query ? ' with ' + query : ''}…`);
    const batches: number[] = [];
    let lastBytes = 0;
    for (let start = 0; start < plan.addTotal; start += plan.addBatch) {
      const ids = s.userIds.slice(start, Math.min(plan.addTotal, start + plan.addBatch));
      const body = {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Add', path: 'members', value: ids.map((value) => ({ value })) }],
      };
      const r = await timed('PATCH', `${scim}/Groups/${groupId}${query}`, jsonHeaders, body);
      if (r.status < 200 || r.status > 299) {
        failures.push(`groups add: PATCH answered ${r.status}: ${r.text.slice(0, 200)}`);
        break;
      }
      batches.push(r.ms);
      lastBytes = r.bytes;
    }
    // The group must now hold exactly the members sent.
    const check = JSON.parse((await timedOk('GET', `${scim}/Groups/${groupId}?attributes=members`, jsonHeaders)).text);
    if ((check.members?.length ?? 0) !== plan.addTotal) failures.push(`groups add${query}: the group has ${check.members?.length ?? 0} members, ${plan.addTotal} were added`);
    const total = batches.reduce((a, b) => a + b, 0);
    out.push({ query, batches, stats: summarize(batches), membersPerSec: (batches.length * plan.addBatch) / (total / 1000), lastBytes });
  }
  return out;
}

/** Removes each of `ids` from the group, one PATCH each with `members[value eq "id"]`. */
async function removals(scim: string, jsonHeaders: Record<string, string>, groupId: string, ids: string[], query: string) {
  const times: number[] = [];
  let bytes = 0;
  for (const id of ids) {
    const body = { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'remove', path: `members[value eq "${id}"]` }] };
    const r = await timed('PATCH', `${scim}/Groups/${groupId}${query}`, jsonHeaders, body);
    if (r.status < 200 || r.status > 299) {
      failures.push(`groups remove: PATCH answered ${r.status}: ${r.text.slice(0, 200)}`);
      continue;
    }
    times.push(r.ms);
    bytes = r.bytes;
  }
  const total = times.reduce((a, b) => a + b, 0);
  return { stats: summarize(times), bytes, perSec: times.length / (total / 1000) };
}

// ---------------------------------------------------------------- lifecycle

const cleanups: (() => void | Promise<void>)[] = [];
let shuttingDown = false;

async function shutdown(code: number): Promise<never> {
  if (!shuttingDown) {
    shuttingDown = true;
    await Promise.all([...children].map(stopChild));
    await serialAgent.close().catch(() => undefined);
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (err) {
        // Best effort.
        log(`cleanup failed: ${err instanceof Error ? err.message : err}`);
      }
    }
  }
  process.exit(code);
}

process.once('SIGINT', () => void shutdown(130));
process.once('SIGTERM', () => void shutdown(143));

main().catch(async (err) => {
  console.error('bench failed:', err instanceof Error ? err.stack ?? err.message : err);
  for (const f of failures) console.error(`  also: ${f}`);
  await shutdown(1);
});
