/**
 * The service under test, in a child process of bench/run.ts.
 *
 * It seeds a fresh store first (through the service's own UserService
 * and GroupService and its store functions, so every row is exactly what a
 * SCIM POST would write),
 * closes it, then starts the real server with startServer() on a free
 * loopback port and tells the parent over IPC where it is.
 *
 * SQLite (a file path) is seeded one UserService.create at a time, in
 * transactions of `batch` users. PostgreSQL (a postgres:// URL, an empty
 * database the parent made) is seeded in bulk, since a million creates one by
 * one would take most of the run: each row is still built by
 * UserService.create (normalize, validate, columns, id, timestamps), against a
 * stand-in for the database that keeps the row instead of inserting it; the
 * rows then go in with one INSERT … SELECT FROM unnest(…) of `pgBatch` rows a
 * statement (12 array parameters, whatever the row count), two statements in
 * flight. The all-users group's memberships are one INSERT … SELECT of the
 * rows addMembers would write. Then VACUUM ANALYZE, as autovacuum would have
 * done on a store that grew to this size over time.
 */
import { issueToken } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { GroupService } from '../src/directory/groups.js';
import { createOrganization } from '../src/directory/organizations.js';
import { UserService } from '../src/directory/users.js';
import { GROUP_SCHEMA } from '../src/scim/schema.js';
import { openStore } from '../src/store/db.js';
import { addMembers } from '../src/store/groups.js';
import { startServer } from '../src/server.js';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database } from '../src/store/db.js';
import { isPostgresUrl } from '../src/store/db.js';
import type { UserRow } from '../src/store/users.js';
import { seededUserName, userBody } from './data.js';

export interface SeedSpec {
  /** DATABASE_URL: an SQLite file path, or the URL of an empty PostgreSQL database. */
  databaseUrl: string;
  users: number;
  /** Members of the small group (the first users). */
  smallGroup: number;
  /** Users created per transaction while seeding (SQLite). */
  batch: number;
  /** Users a bulk INSERT statement carries (PostgreSQL); default 5,000. */
  pgBatch?: number;
  /** PG_POOL_SIZE for the service (PostgreSQL); default 10. */
  pgPoolSize?: number;
  /** The provisioning log (on by default); false starts the service with PROVISIONING_LOG=off. */
  provisioningLog?: boolean;
}

export interface ReadyMessage {
  type: 'ready';
  url: string;
  token: string;
  orgId: string;
  userIds: string[];
  groups: { small: string; large: string; target: string };
  largeGroupSize: number;
  /** Whether the service records the provisioning log, as loadConfig read it. */
  provisioningLog: boolean;
  store: 'sqlite' | 'postgres';
  seedMs: { users: number; groups: number; total: number; vacuum?: number };
  /** How the users were written. */
  seedMethod: string;
}

/** High enough that no workload reaches it. */
const RATE_LIMIT_PER_MINUTE = 1_000_000_000;

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as SeedSpec;
  const config = loadConfig({
    DATABASE_URL: spec.databaseUrl,
    PG_POOL_SIZE: String(spec.pgPoolSize ?? 10),
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    // The per-token rate limit (12,000 a minute by default) would answer most
    // of the load with 429: raise it out of the way. The limiter still runs
    // on every request, so its cost is part of what is measured.
    SCIM_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    ...(spec.provisioningLog === false ? { PROVISIONING_LOG: 'off' } : {}),
  });

  const pg = isPostgresUrl(config.databaseUrl);
  const t0 = performance.now();
  const store = await openStore(config.databaseUrl, { poolSize: config.pgPoolSize });
  const org = await createOrganization(store.db, { name: 'Bench organization', provisioningEnabled: true, usernameFormat: 'email' });
  const { token } = await issueToken(store.db, org.id);
  const userIds: string[] = [];
  let seedMethod: string;
  if (pg) {
    const pgBatch = spec.pgBatch ?? 5_000;
    seedMethod = `rows built by UserService.create, inserted ${pgBatch.toLocaleString('en-US')} a statement (INSERT … SELECT FROM unnest), 2 statements in flight`;
    await bulkUsers(store.db, spec.users, pgBatch, async (i) => {
      const row = await buildUser(org, userBody(seededUserName(i), i));
      userIds.push(row.id);
      return row;
    });
  } else {
    seedMethod = `UserService.create in ${spec.batch.toLocaleString('en-US')}-user transactions`;
    for (let start = 0; start < spec.users; start += spec.batch) {
      const end = Math.min(spec.users, start + spec.batch);
      await store.db.transaction().execute(async (trx) => {
        // The service's own create path (normalize, validate, columns), inside one transaction per batch.
        const users = new UserService(trx);
        for (let i = start; i < end; i++) {
          const row = await users.create(org, userBody(seededUserName(i), i));
          userIds.push(row.id);
        }
      });
    }
  }
  const t1 = performance.now();
  // Groups through GroupService.create, members through the very insert the
  // service makes (store.addMembers, added_at = the group's creation time), so
  // the rows are those of a create with members. The service's own check that
  // each member is a live user is skipped: these users were just created, and
  // that check is slow on a large organization (see the report).
  const groups = new GroupService(store.db);
  const groupWith = async (displayName: string, ids: string[]) => {
    const row = await groups.create(org, { schemas: [GROUP_SCHEMA], displayName });
    await store.db.transaction().execute((trx) => addMembers(trx, org.id, row.id, ids, row.created_at));
    return row;
  };
  const small = await groupWith('Bench small group', userIds.slice(0, spec.smallGroup));
  let large;
  if (pg) {
    // The rows addMembers would write for every user (group, user, organization, the group's creation time), in one statement.
    large = await groups.create(org, { schemas: [GROUP_SCHEMA], displayName: 'Bench everyone' });
    await sql`INSERT INTO group_members (group_id, user_id, org_id, added_at)
      SELECT ${large.id}, u.id, u.org_id, ${large.created_at} FROM users u WHERE u.org_id = ${org.id} ORDER BY u.seq`.execute(store.db);
  } else {
    large = await groupWith('Bench everyone', userIds);
  }
  const target = await groups.create(org, { schemas: [GROUP_SCHEMA], displayName: 'Bench Entra target' });
  const t2 = performance.now();
  let vacuumMs: number | undefined;
  if (pg) {
    await sql`VACUUM ANALYZE`.execute(store.db);
    vacuumMs = performance.now() - t2;
  }
  await store.close();

  const server = await startServer(config, { quiet: true });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    process.exit(0);
  };
  process.on('message', (msg: { type?: string }) => {
    if (msg?.type === 'stop') void stop();
    else if (msg?.type === 'rss') process.send?.({ type: 'rss', rss: process.memoryUsage().rss });
  });
  process.on('disconnect', () => void stop());
  const ready: ReadyMessage = {
    type: 'ready',
    url: server.url,
    token,
    orgId: org.id,
    userIds,
    groups: { small: small.id, large: large.id, target: target.id },
    largeGroupSize: userIds.length,
    provisioningLog: config.provisioningLog,
    store: pg ? 'postgres' : 'sqlite',
    seedMs: { users: t1 - t0, groups: t2 - t1, total: performance.now() - t0, ...(vacuumMs === undefined ? {} : { vacuum: vacuumMs }) },
    seedMethod,
  };
  process.send?.(ready);
}

/**
 * Builds the row UserService.create would insert, without inserting it: the
 * service runs its whole create path against a stand-in whose insert keeps
 * the row.
 */
let captured: UserRow | undefined;
const captureDb = {
  insertInto: () => ({
    values: (row: UserRow) => ({
      execute: async () => {
        captured = row;
      },
    }),
  }),
} as unknown as Kysely<Database>;
const builder = new UserService(captureDb);

async function buildUser(org: Parameters<UserService['create']>[0], body: unknown): Promise<UserRow> {
  captured = undefined;
  const row = await builder.create(org, body);
  if (captured !== row) throw new Error('bench seeding: UserService.create did not insert the row it returned');
  return row;
}

const USER_COLUMNS = ['id', 'org_id', 'user_name', 'user_name_ci', 'external_id', 'email_ci', 'active', 'data', 'version', 'created_at', 'updated_at', 'deleted_at'] as const;
const INT_COLUMNS = new Set(['active', 'version']);

/** Inserts users 0..count-1 as make(i) builds them, `batch` rows a statement, two statements in flight. */
async function bulkUsers(db: Kysely<Database>, count: number, batch: number, make: (i: number) => Promise<UserRow>): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    const cols: unknown[][] = USER_COLUMNS.map(() => []);
    for (let i = start; i < end; i++) {
      const row = await make(i);
      USER_COLUMNS.forEach((c, k) => cols[k].push(row[c]));
    }
    const arrays = USER_COLUMNS.map((c, k) => sql`${cols[k]}::${sql.raw(INT_COLUMNS.has(c) ? 'integer[]' : 'text[]')}`);
    const names = sql.join(USER_COLUMNS.map((c) => sql.ref(c)));
    // The ordinality column keeps seq in the users' order.
    const statement = sql`INSERT INTO users (${names}) SELECT ${names} FROM unnest(${sql.join(arrays)}) WITH ORDINALITY AS t(${names}, ord) ORDER BY ord`;
    const p: Promise<void> = statement
      .execute(db)
      .then(() => undefined)
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= 2) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
}

main().catch((err) => {
  console.error('bench server failed:', err);
  process.exit(1);
});
