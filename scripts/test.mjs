#!/usr/bin/env node
// Runs every test file under test/ with Node's own runner, TypeScript loaded by
// tsx, against SQLite; then runs the store-backed suites again against
// PostgreSQL when a server is reachable (required when CI=true).
// Arguments narrow the run to files whose path contains one of them.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import pg from 'pg';

/** Suites that go through a store, and so run once per store. */
const STORE_SUITES = ['test/http/', 'test/conformance/', 'test/doctor/', 'test/store/', 'test/hardening/'];
const PG_URL = process.env.PLUMM_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...findTests(full));
    else if (name.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

function run(files, env) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  return result.status ?? 1;
}

async function postgresReachable() {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

const filters = process.argv.slice(2);
const files = findTests('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

console.log('# store: SQLite');
let status = run(files, { PLUMM_TEST_STORE: 'sqlite' });

const storeFiles = files.filter((f) => STORE_SUITES.some((dir) => f.replaceAll('\\', '/').startsWith(dir)));
if (storeFiles.length > 0 && process.env.PLUMM_TEST_SKIP_POSTGRES !== '1') {
  if (await postgresReachable()) {
    console.log(`# store: PostgreSQL (${new URL(PG_URL).host})`);
    status = run(storeFiles, { PLUMM_TEST_STORE: 'postgres', PLUMM_TEST_PG_URL: PG_URL }) || status;
  } else if (process.env.CI === 'true') {
    console.log(`# store: PostgreSQL at ${new URL(PG_URL).host} is not reachable, and CI requires it`);
    status = 1;
  } else {
    console.log(`# store: PostgreSQL at ${new URL(PG_URL).host} is not reachable: its half of the suite was skipped`);
  }
}
process.exit(status);
