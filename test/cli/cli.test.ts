// The plumm-scim command as support staff run it: a child process of
// bin/plumm-scim.js against the same SQLite file a running server uses.
// Organizations, tokens (the secret printed once, never listed), purges that
// refuse active users, and `log search` with --json and --csv. Operator
// actions land in the organization's provisioning log with a "cli:" actor.
// Expected values come from the CLI contract (DESIGN.md, the provisioning-log
// issue), not from the code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestServer, startTestServer } from '../support/server.js';
import { ScimClient, assertScimError, assertStatus, patchBody, repoRoot, send, uniqueEmail, userBody } from '../support/http.js';
import { type EventView, searchEvents } from '../../src/events/log.js';

const BIN = join(repoRoot, 'bin', 'plumm-scim.js');

let dir: string;
let dbPath: string;
let server: TestServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'plumm-scim-cli-'));
  dbPath = join(dir, 'cli.db');
  server = await startTestServer({ DATABASE_URL: dbPath });
});

after(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  describe: string;
}

/** Runs the command with DATABASE_URL pointing at the test server's store. */
function cli(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: repoRoot, env: { ...process.env, DATABASE_URL: dbPath, LOG_LEVEL: 'silent' }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr, describe: `plumm-scim ${args.join(' ')} -> exit ${code}\nstdout: ${stdout.slice(0, 800)}\nstderr: ${stderr.slice(0, 800)}` });
      },
    );
  });
}

function json(run: Run): any {
  assert.equal(run.code, 0, run.describe);
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(`stdout should be exactly one JSON value: ${run.describe}`);
  }
}

/** The organization's log, once the server's recorder has written what `done` waits for. */
async function logOf(orgId: string, done: (e: EventView[]) => boolean = () => true): Promise<EventView[]> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const { events } = await searchEvents(server.server.store.db, { orgId, limit: 1000 });
    if (done(events) || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 40));
  }
}

describe('plumm-scim org and token', () => {
  test('org create --json prints {id, name}', async () => {
    const created = json(await cli('org', 'create', 'Acme CLI', '--enable-provisioning', '--json'));
    assert.equal(typeof created.id, 'string');
    assert.ok(created.id.length > 0);
    assert.equal(created.name, 'Acme CLI');
    assert.equal(created.provisioningEnabled, true);
    const list = json(await cli('org', 'list', '--json'));
    assert.ok(list.organizations.some((o: { id: string }) => o.id === created.id));
  });

  test('token issue --json prints {id, token}; the token works; token list --json never shows it', async () => {
    const org = json(await cli('org', 'create', 'Tokens CLI', '--enable-provisioning', '--json'));
    const issued = json(await cli('token', 'issue', org.id, '--json'));
    assert.equal(typeof issued.id, 'string');
    assert.equal(typeof issued.token, 'string');
    assert.ok(issued.token.length >= 32);

    const scim = new ScimClient(server.scimUrl, issued.token);
    assertStatus(await scim.get('/Users?count=1'), 200);

    const listRun = await cli('token', 'list', org.id, '--json');
    const list = json(listRun);
    assert.ok(Array.isArray(list.tokens));
    assert.ok(list.tokens.some((t: { id: string }) => t.id === issued.id));
    assert.ok(!listRun.stdout.includes(issued.token), 'token list must not print the secret');
    assert.ok(!listRun.stdout.includes(issued.token.slice(12)), 'token list must not print the secret, even in part beyond a short hint');
    const human = await cli('token', 'list', org.id);
    assert.equal(human.code, 0, human.describe);
    assert.ok(!human.stdout.includes(issued.token.slice(12)));

    // Issuing and revoking are operator actions in the organization's log.
    const revoked = json(await cli('token', 'revoke', issued.id, '--json'));
    assert.equal(revoked.revoked, true);
    assertScimError(await scim.get('/Users?count=1'), 401);
    const events = await logOf(org.id, (e) => e.some((x) => x.action === 'Revoke API token'));
    const issue = events.find((e) => e.action === 'Issue API token');
    const revoke = events.find((e) => e.action === 'Revoke API token');
    assert.ok(issue, `"Issue API token" in the log: ${JSON.stringify(events)}`);
    assert.ok(revoke, `"Revoke API token" in the log: ${JSON.stringify(events)}`);
    assert.match(issue.actor, /^cli:/);
    assert.match(revoke.actor, /^cli:/);
    assert.equal(issue.targetId, issued.id);
    assert.ok(!JSON.stringify(events).includes(issued.token.slice(12)), 'the secret is not in the log');

    const again = await cli('token', 'revoke', issued.id, '--json');
    assert.notEqual(again.code, 0, `revoking twice fails: ${again.describe}`);
  });

  test('switching provisioning on and off is in the organization\'s log with a "cli:" actor', async () => {
    const org = json(await cli('org', 'create', 'Switch CLI', '--json'));
    assert.equal(json(await cli('org', 'enable-provisioning', org.id, '--json')).provisioningEnabled, true);
    assert.equal(json(await cli('org', 'disable-provisioning', org.id, '--json')).provisioningEnabled, false);
    const events = await logOf(org.id);
    assert.deepEqual(events.map((e) => e.action), ['Disable provisioning', 'Enable provisioning']);
    assert.ok(events.every((e) => /^cli:/.test(e.actor) && e.outcome === 'SUCCESS'));
  });

  test('an unknown organization is a non-zero exit with a JSON error under --json', async () => {
    const run = await cli('token', 'issue', 'no-such-org', '--json');
    assert.notEqual(run.code, 0, run.describe);
    assert.equal(typeof JSON.parse(run.stdout).error, 'string');
  });
});

describe('plumm-scim user purge', () => {
  test('refuses an active user without --force, purges with it, and records "Purge user" with a "cli:" actor', async () => {
    const { orgId, token } = await server.createOrg({ name: 'Purge CLI' });
    const scim = new ScimClient(server.scimUrl, token);
    const email = uniqueEmail('purge');
    const created = await scim.post('/Users', userBody(email));
    assertStatus(created, 201);
    const id = created.body.id;

    const refused = await cli('user', 'purge', orgId, id, '--json');
    assert.notEqual(refused.code, 0, `an active user is refused: ${refused.describe}`);
    assert.match(refused.stderr + refused.stdout, /active/i);
    assertStatus(await scim.get(`/Users/${id}`), 200);
    const afterRefusal = await logOf(orgId, (e) => e.length >= 1);
    assert.ok(!afterRefusal.some((e) => e.action === 'Purge user' && e.outcome === 'SUCCESS'), 'a refused purge is not a successful purge');

    const purged = json(await cli('user', 'purge', orgId, id, '--force', '--json'));
    assert.equal(purged.userId, id);
    assert.equal(purged.userName, email);
    assertScimError(await scim.get(`/Users/${id}`), 404);
    // A create with the same userName now succeeds: the data is gone.
    assertStatus(await scim.post('/Users', userBody(email)), 201);

    const events = await logOf(orgId, (e) => e.some((x) => x.action === 'Purge user'));
    const purge = events.find((e) => e.action === 'Purge user');
    assert.ok(purge, `"Purge user" in the log: ${JSON.stringify(events)}`);
    assert.match(purge.actor, /^cli:/);
    assert.equal(purge.outcome, 'SUCCESS');
    assert.equal(purge.targetId, id);
    assert.equal(purge.targetName, email);
    const found = await searchEvents(server.server.store.db, { orgId, query: email, action: 'Purge user' });
    assert.equal(found.total, 1, 'the purge is found by searching the email');
  });

  test('purges a deactivated user without --force', async () => {
    const { orgId, token } = await server.createOrg({ name: 'Purge CLI 2' });
    const scim = new ScimClient(server.scimUrl, token);
    const created = await scim.post('/Users', userBody(uniqueEmail('gone')));
    assertStatus(await scim.patch(`/Users/${created.body.id}`, patchBody({ op: 'replace', value: { active: false } })), 200);
    const purged = json(await cli('user', 'purge', orgId, created.body.id, '--json'));
    assert.equal(purged.userId, created.body.id);
  });

  test('an unknown user is a non-zero exit', async () => {
    const { orgId } = await server.createOrg({ name: 'Purge CLI 3' });
    const run = await cli('user', 'purge', orgId, 'no-such-user', '--force', '--json');
    assert.notEqual(run.code, 0, run.describe);
  });
});

describe('plumm-scim log search', () => {
  let orgId: string;
  let email: string;

  before(async () => {
    const org = await server.createOrg({ name: 'Log CLI' });
    orgId = org.orgId;
    const scim = new ScimClient(server.scimUrl, org.token);
    email = uniqueEmail('logcli');
    const created = await scim.post('/Users', userBody(email));
    assertStatus(created, 201);
    assertStatus(await scim.post('/Users', userBody(email)), 409);
    assertStatus(await scim.patch(`/Users/${created.body.id}`, patchBody({ op: 'replace', value: { active: false } })), 200);
    await logOf(orgId, (e) => e.length >= 3);
  });

  test('--json prints a JSON array of events, newest first', async () => {
    const events = json(await cli('log', 'search', orgId, '--json'));
    assert.ok(Array.isArray(events), 'a JSON array');
    assert.deepEqual(events.map((e: EventView) => e.action), ['Push user deactivation', 'Push new user', 'Push new user']);
    assert.ok(events.every((e: EventView) => e.orgId === orgId));
  });

  test('--query failure finds the duplicate create with its reason', async () => {
    const events = json(await cli('log', 'search', orgId, '--query', 'failure', '--json'));
    assert.equal(events.length, 1);
    assert.equal(events[0].status, 409);
    assert.ok(events[0].reason.includes(email), events[0].reason);
  });

  test('--query with the email, --outcome, --from, --to and --limit narrow the result', async () => {
    const byEmail = json(await cli('log', 'search', orgId, '--query', email, '--json'));
    assert.equal(byEmail.length, 3);
    const successes = json(await cli('log', 'search', orgId, '--outcome', 'success', '--json'));
    assert.ok(successes.length === 2 && successes.every((e: EventView) => e.outcome === 'SUCCESS'));
    const limited = json(await cli('log', 'search', orgId, '--limit', '1', '--json'));
    assert.equal(limited.length, 1);
    assert.equal(limited[0].action, 'Push user deactivation');
    const future = json(await cli('log', 'search', orgId, '--from', '2999-01-01T00:00:00Z', '--json'));
    assert.deepEqual(future, []);
    const past = json(await cli('log', 'search', orgId, '--to', '2000-01-01T00:00:00Z', '--json'));
    assert.deepEqual(past, []);
  });

  test('an empty result under --json is an empty array', async () => {
    const { orgId: empty } = await server.createOrg({ name: 'Log CLI empty' });
    assert.deepEqual(json(await cli('log', 'search', empty, '--json')), []);
  });

  test('--csv prints a header row then one line per event', async () => {
    const run = await cli('log', 'search', orgId, '--csv');
    assert.equal(run.code, 0, run.describe);
    const lines = run.stdout.split(/\r?\n/).filter(Boolean);
    assert.match(lines[0], /^occurredAt,orgId,actor,/);
    assert.equal(lines.length, 4, run.describe);
    assert.ok(lines.slice(1).every((l) => l.includes(orgId)));
    const limited = await cli('log', 'search', orgId, '--csv', '--limit', '1', '--query', 'failure');
    const limitedLines = limited.stdout.split(/\r?\n/).filter(Boolean);
    assert.equal(limitedLines.length, 2, limited.describe);
    assert.match(limitedLines[0], /^occurredAt,/);
    assert.ok(limitedLines[1].includes('FAILURE'));
  });

  test('the organization can be named instead of its id', async () => {
    const events = json(await cli('log', 'search', 'Log CLI', '--query', 'failure', '--json'));
    assert.equal(events.length, 1);
  });

  test('a bad --outcome or --from is a non-zero exit', async () => {
    assert.notEqual((await cli('log', 'search', orgId, '--outcome', 'maybe', '--json')).code, 0);
    assert.notEqual((await cli('log', 'search', orgId, '--from', 'yesterday', '--json')).code, 0);
  });
});

describe('plumm-scim operator token', () => {
  test('an issued operator token opens the admin API; without one it answers 401 JSON', async () => {
    const issued = json(await cli('operator', 'token', 'issue', 'alice', '--json'));
    assert.equal(typeof issued.token, 'string');
    const ok = await send(`${server.baseUrl}/admin/api/organizations`, { method: 'GET', headers: { authorization: `Bearer ${issued.token}` } });
    assertStatus(ok, 200);
    const none = await send(`${server.baseUrl}/admin/api/organizations`, { method: 'GET' });
    assertStatus(none, 401);
    assert.match(none.headers.get('content-type') ?? '', /json/);
    const listRun = await cli('operator', 'token', 'list', '--json');
    assert.equal(listRun.code, 0, listRun.describe);
    assert.ok(!listRun.stdout.includes(issued.token.slice(10)), 'operator token list must not print the secret');
    json(await cli('operator', 'token', 'revoke', issued.id, '--json'));
    const revoked = await send(`${server.baseUrl}/admin/api/organizations`, { method: 'GET', headers: { authorization: `Bearer ${issued.token}` } });
    assertStatus(revoked, 401);
  });
});
