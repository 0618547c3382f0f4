// Several stateless instances on one PostgreSQL database must be correct
// together: the database, not any one process, decides uniqueness, and
// membership changes from different instances all take effect.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { issueToken } from '../../src/auth/tokens.js';
import { createOrganization } from '../../src/directory/organizations.js';
import { openStore } from '../../src/store/db.js';
import { createTestDatabase, testStoreIsPostgres } from '../support/postgres.js';

const SKIP = testStoreIsPostgres() ? false : 'needs PostgreSQL: runs in the PostgreSQL half of the suite';

interface Instance {
  child: ChildProcess;
  url: string;
}

/** Starts `npm start`'s entry point as its own process and waits for its address. */
async function startInstance(databaseUrl: string): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', PG_POOL_SIZE: '5' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start:\n${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}:\n${out}`)));
  });
  return { child, url };
}

async function stop(instance: Instance): Promise<void> {
  if (instance.child.exitCode !== null) return;
  instance.child.kill('SIGTERM');
  await once(instance.child, 'exit');
}

describe('two instances on one PostgreSQL database', { skip: SKIP }, () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: Instance;
  let b: Instance;
  let token: string;

  before(async () => {
    db = await createTestDatabase();
    // Migrate and create the organization first, so neither instance seeds a demo one.
    const store = await openStore(db.url);
    const org = await createOrganization(store.db, { name: 'Race organization', provisioningEnabled: true });
    token = (await issueToken(store.db, org.id)).token;
    await store.close();
    [a, b] = await Promise.all([startInstance(db.url), startInstance(db.url)]);
  });

  after(async () => {
    await Promise.all([a && stop(a), b && stop(b)]);
    await db?.drop();
  });

  const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' });

  test('100 concurrent creates of one userName across both instances: one 201, the rest 409, one user', async () => {
    const userName = 'race.winner@example.com';
    const statuses = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const base = i % 2 === 0 ? a.url : b.url;
        // Differently cased, as two IdP retries might send it.
        const name = i % 3 === 0 ? userName.toUpperCase() : userName;
        const res = await fetch(`${base}/scim/v2/Users`, {
          method: 'POST',
          headers: headers(),
          body: JSON.stringify({ userName: name, emails: [{ value: userName, primary: true }] }),
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses.join(',')}`);
    assert.equal(statuses.filter((s) => s === 409).length, 99);
    for (const base of [a.url, b.url]) {
      const res = await fetch(`${base}/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`, { headers: headers() });
      const body = await res.json();
      assert.equal(body.totalResults, 1);
    }
  });

  test('concurrent membership PATCHes on one group through both instances all take effect', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${a.url}/scim/v2/Users`, {
        method: 'POST',
        headers: headers(),
        body: JSON.stringify({ userName: `member${i}@example.com` }),
      });
      assert.equal(res.status, 201);
      ids.push((await res.json()).id);
    }
    const created = await fetch(`${b.url}/scim/v2/Groups`, { method: 'POST', headers: headers(), body: JSON.stringify({ displayName: 'Champions' }) });
    assert.equal(created.status, 201);
    const groupId = (await created.json()).id;
    const statuses = await Promise.all(
      ids.map(async (id, i) => {
        const res = await fetch(`${i % 2 === 0 ? a.url : b.url}/scim/v2/Groups/${groupId}`, {
          method: 'PATCH',
          headers: headers(),
          body: JSON.stringify({
            schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
            Operations: [{ op: 'Add', path: 'members', value: [{ value: id }] }],
          }),
        });
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.ok(statuses.every((s) => s === 200 || s === 204), `statuses: ${statuses.join(',')}`);
    for (const base of [a.url, b.url]) {
      const res = await fetch(`${base}/scim/v2/Groups/${groupId}`, { headers: headers() });
      const body = await res.json();
      assert.deepEqual(body.members.map((m: { value: string }) => m.value).sort(), [...ids].sort());
    }
  });

  test('a user deleted while another instance adds it to a group never stays a member', async () => {
    for (let round = 0; round < 3; round++) {
      const ids = await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          const res = await fetch(`${a.url}/scim/v2/Users`, {
            method: 'POST',
            headers: headers(),
            body: JSON.stringify({ userName: `leaver${round}.${i}@example.com` }),
          });
          assert.equal(res.status, 201);
          return (await res.json()).id as string;
        }),
      );
      const created = await fetch(`${a.url}/scim/v2/Groups`, { method: 'POST', headers: headers(), body: JSON.stringify({ displayName: `Leavers ${round}` }) });
      const groupId = (await created.json()).id;
      // Each user's DELETE and its member add are sent at the same moment, to different instances.
      await Promise.all(
        ids.flatMap((id, i) => [
          fetch(`${i % 2 ? a.url : b.url}/scim/v2/Users/${id}`, { method: 'DELETE', headers: headers() }).then((r) => r.arrayBuffer()),
          fetch(`${i % 2 ? b.url : a.url}/scim/v2/Groups/${groupId}`, {
            method: 'PATCH',
            headers: headers(),
            body: JSON.stringify({
              schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
              Operations: [{ op: 'add', path: 'members', value: [{ value: id }] }],
            }),
          }).then((r) => r.arrayBuffer()),
        ]),
      );
      // Every user is deleted (DELETE ends memberships; a deleted user cannot be added), so none may remain.
      const group = await (await fetch(`${b.url}/scim/v2/Groups/${groupId}`, { headers: headers() })).json();
      assert.deepEqual(group.members ?? [], [], `round ${round}`);
    }
  });

  test('a write through one instance is read at once through the other (no stale cache)', async () => {
    const res = await fetch(`${a.url}/scim/v2/Users`, {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify({ userName: 'fresh@example.com', displayName: 'Before' }),
    });
    const { id } = await res.json();
    const patched = await fetch(`${a.url}/scim/v2/Users/${id}`, {
      method: 'PATCH',
      headers: headers(),
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'displayName', value: 'After' }] }),
    });
    assert.equal(patched.status, 200);
    const read = await fetch(`${b.url}/scim/v2/Users/${id}`, { headers: headers() });
    assert.equal((await read.json()).displayName, 'After');
  });
});

describe('migrations when two instances start at once', { skip: SKIP }, () => {
  test('both instances start on an empty database and the schema is migrated once', async () => {
    const db = await createTestDatabase();
    try {
      const stores = await Promise.all([openStore(db.url), openStore(db.url), openStore(db.url)]);
      const { rows } = await import('kysely').then(({ sql }) =>
        sql<{ name: string }>`SELECT name FROM schema_migrations ORDER BY name`.execute(stores[0].db),
      );
      const names = rows.map((r) => r.name);
      assert.deepEqual(names, [...new Set(names)], 'each migration is recorded once');
      assert.ok(names.length >= 4);
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await db.drop();
    }
  });
});
