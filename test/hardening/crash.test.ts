/**
 * Durability under kill -9: the real service as a child process takes
 * concurrent creates, is SIGKILLed mid-stream, and restarts on the same
 * SQLite file with every acknowledged (201) user present. Then the duplicate
 * race: 50 concurrent creates of one userName give exactly one 201.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ChildServer, startChild, stopChild } from './child.js';

const STREAMS = 20;
const KILL_AFTER_MS = 1_500;

describe('crash safety (SIGKILL) and the duplicate race', () => {
  let dir: string;
  let env: Record<string, string>;
  let server: ChildServer | undefined;
  let token: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plumm-scim-crash-'));
    env = { DATABASE_URL: join(dir, 'crash.db'), LOG_LEVEL: 'info', SCIM_RATE_LIMIT_PER_MINUTE: '100000000' };
    server = await startChild(env, { expectBanner: true });
    token = server.token!;
  });
  after(async () => {
    await stopChild(server);
    rmSync(dir, { recursive: true, force: true });
  });

  const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' });
  const userBody = (userName: string) =>
    JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName, emails: [{ value: userName, primary: true, type: 'work' }], active: true });

  test('every user acknowledged before kill -9 is there after the restart', async (t) => {
    const acknowledged = new Map<string, string>(); // id -> userName
    let stop = false;
    let attempts = 0;
    let transportErrors = 0;
    const base = server!.url;
    const stream = async (s: number) => {
      for (let i = 0; !stop; i++) {
        const userName = `crash.${s}.${i}@example.com`;
        attempts++;
        try {
          const res = await fetch(`${base}/scim/v2/Users`, { method: 'POST', headers: headers(), body: userBody(userName)});
          const text = await res.text();
          if (res.status === 201) acknowledged.set(JSON.parse(text).id, userName);
          else assert.fail(`create ${userName} -> ${res.status} ${text}`);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          transportErrors++; // the kill cut the connection: not acknowledged
          return;
        }
      }
    };
    const streams = Array.from({ length: STREAMS }, (_, s) => stream(s));
    await new Promise((r) => setTimeout(r, KILL_AFTER_MS));
    server!.kill('SIGKILL');
    const how = await server!.exited;
    stop = true;
    await Promise.all(streams);
    assert.equal(how, 'SIGKILL');
    t.diagnostic(`acknowledged ${acknowledged.size} of ${attempts} creates before SIGKILL; ${transportErrors} cut off`);
    assert.ok(acknowledged.size >= 10, `enough creates were acknowledged before the kill (${acknowledged.size} of ${attempts})`);

    server = await startChild(env);
    const missing: string[] = [];
    const wrong: string[] = [];
    const entries = [...acknowledged];
    let next = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < entries.length) {
          const [id, userName] = entries[next++];
          const res = await fetch(`${server!.url}/scim/v2/Users/${id}`, { headers: { authorization: `Bearer ${token}` }});
          const body = (await res.json()) as { userName?: string };
          if (res.status !== 200) missing.push(`${id} (${userName}) -> ${res.status}`);
          else if (body.userName !== userName) wrong.push(`${id}: ${body.userName} != ${userName}`);
        }
      }),
    );
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${acknowledged.size} acknowledged users are missing after the restart`);
    assert.deepEqual(wrong.slice(0, 10), []);
    // The store is consistent: a list of everything counts at least the acknowledged users.
    const list = await fetch(`${server!.url}/scim/v2/Users?count=0`, { headers: { authorization: `Bearer ${token}` }});
    const total = ((await list.json()) as { totalResults: number }).totalResults;
    assert.ok(total >= acknowledged.size, `totalResults ${total} >= acknowledged ${acknowledged.size}`);
    // Unacknowledged requests may or may not have committed; never more than were attempted.
    assert.ok(total <= attempts, `totalResults ${total} <= attempts ${attempts}`);
  });

  test('50 concurrent creates of one userName: exactly one 201, the others 409', async () => {
    const userName = 'race.winner@example.com';
    const results = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await fetch(`${server!.url}/scim/v2/Users`, { method: 'POST', headers: headers(), body: userBody(userName)});
        const body = (await res.json()) as { id?: string; scimType?: string; status?: string };
        return { status: res.status, body };
      }),
    );
    const statuses = results.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 409).length, 49, `statuses: ${statuses}`);
    for (const r of results.filter((x) => x.status === 409)) {
      assert.equal(r.body.scimType, 'uniqueness');
      assert.equal(r.body.status, '409');
    }
    const list = await fetch(`${server!.url}/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`, { headers: { authorization: `Bearer ${token}` }});
    assert.equal(((await list.json()) as { totalResults: number }).totalResults, 1);
  });

  test('the same race in another letter case is still one user (userName is unique without regard to case)', async () => {
    const names = Array.from({ length: 20 }, (_, i) => (i % 2 ? 'Case.Race@Example.com' : 'case.race@example.com'));
    const statuses = await Promise.all(
      names.map(async (n) => {
        const res = await fetch(`${server!.url}/scim/v2/Users`, { method: 'POST', headers: headers(), body: userBody(n)});
        await res.arrayBuffer();
        return res.status;
      }),
    );
    assert.equal(statuses.filter((s) => s === 201).length, 1, `statuses: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 409).length, 19, `statuses: ${statuses}`);
  });
});
