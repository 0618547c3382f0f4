/**
 * The service under test, in a child process of bench/run.ts.
 *
 * It seeds a fresh SQLite store first (through the service's own UserService
 * and GroupService and its store functions, so every row is exactly what a
 * SCIM POST would write),
 * closes it, then starts the real server with startServer() on a free
 * loopback port and tells the parent over IPC where it is.
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
import { seededUserName, userBody } from './data.js';

export interface SeedSpec {
  dbPath: string;
  users: number;
  /** Members of the small group (the first users). */
  smallGroup: number;
  /** Users created per transaction while seeding. */
  batch: number;
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
  seedMs: { users: number; groups: number; total: number };
}

/** High enough that no workload reaches it. */
const RATE_LIMIT_PER_MINUTE = 1_000_000_000;

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as SeedSpec;
  const config = loadConfig({
    DATABASE_URL: spec.dbPath,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    // The per-token rate limit (12,000 a minute by default) would answer most
    // of the load with 429: raise it out of the way. The limiter still runs
    // on every request, so its cost is part of what is measured.
    SCIM_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE),
    ...(spec.provisioningLog === false ? { PROVISIONING_LOG: 'off' } : {}),
  });

  const t0 = performance.now();
  const store = await openStore(config.databaseUrl);
  const org = await createOrganization(store.db, { name: 'Bench organization', provisioningEnabled: true, usernameFormat: 'email' });
  const { token } = await issueToken(store.db, org.id);
  const userIds: string[] = [];
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
  const large = await groupWith('Bench everyone', userIds);
  const target = await groups.create(org, { schemas: [GROUP_SCHEMA], displayName: 'Bench Entra target' });
  const t2 = performance.now();
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
    seedMs: { users: t1 - t0, groups: t2 - t1, total: t2 - t0 },
  };
  process.send?.(ready);
}

main().catch((err) => {
  console.error('bench server failed:', err);
  process.exit(1);
});
