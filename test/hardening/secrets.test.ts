/**
 * No secret at rest or in the logs: the real service runs as a child process
 * with LOG_LEVEL=trace; requests carry the API token (Bearer, bare and Basic)
 * and bodies carry passwords; then the captured output and the raw bytes of
 * the SQLite file and its WAL are searched for the token, every password and
 * "Bearer <token>". Tokens are stored only as their SHA-256.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { type ChildServer, startChild, stopChild } from './child.js';

const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

describe('secrets stay out of the store and the logs', () => {
  let dir: string;
  let dbPath: string;
  let server: ChildServer | undefined;
  let token: string;
  const wrongToken = `plmscim_${randomBytes(32).toString('base64url')}`;
  const pw = (label: string) => `Pw-${label}-${randomBytes(12).toString('hex')}`;
  const passwords = { create: pw('create'), put: pw('put'), patch: pw('patch'), pathless: pw('pathless'), wrongAuth: pw('wrong-auth') };
  /** A password in a body an IdP's template broke (unquoted value): refused, and must not be kept either. */
  const malformedPassword = pw('malformed');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'plumm-scim-secrets-'));
    dbPath = join(dir, 'secrets.db');
    server = await startChild({ DATABASE_URL: dbPath, LOG_LEVEL: 'trace', SCIM_RATE_LIMIT_PER_MINUTE: '100000' }, { expectBanner: true });
    token = server.token!;

    const base = `${server.url}/scim/v2`;
    const json = { 'content-type': 'application/scim+json' };
    const bearer = { authorization: `Bearer ${token}` };
    const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
      const res = await fetch(`${base}${path}`, { method, headers: { ...headers, ...(body !== undefined ? json : {}) }, body: typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    const user = (n: string, password: string) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `${n}@example.com`, emails: [{ value: `${n}@example.com`, primary: true }], password });

    const created = await call('POST', '/Users', bearer, user('secret.one', passwords.create));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    assert.equal(created.body.password, undefined, 'a password is never returned');
    assert.equal((await call('PUT', `/Users/${id}`, bearer, user('secret.one', passwords.put))).status, 200);
    assert.equal((await call('PATCH', `/Users/${id}`, bearer, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'replace', path: 'password', value: passwords.patch }] })).status, 200);
    assert.equal((await call('PATCH', `/Users/${id}`, bearer, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'replace', value: { password: passwords.pathless } }] })).status, 200);
    // Okta's "HTTP Header" option sends the bare token; Basic carries it as the password.
    assert.equal((await call('GET', '/Users', { authorization: token })).status, 200);
    assert.equal((await call('GET', '/Users', { authorization: `Basic ${Buffer.from(`scim:${token}`).toString('base64')}` })).status, 200);
    assert.equal((await call('POST', '/Users/.search', bearer, { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName eq "secret.one@example.com"' })).status, 200);
    // A wrong token, with a password in the body: refused, and neither may be kept.
    assert.equal((await call('POST', '/Users', { authorization: `Bearer ${wrongToken}` }, user('secret.two', passwords.wrongAuth))).status, 401);
    assert.equal((await call('GET', '/Users', { authorization: `Bearer ${wrongToken}` })).status, 401);
    // A refused duplicate with a password.
    assert.equal((await call('POST', '/Users', bearer, user('secret.one', passwords.create))).status, 409);
    // A template bug: the password value is not quoted.
    const broken = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"secret.three@example.com","password":${malformedPassword}}`;
    assert.equal((await call('POST', '/Users', bearer, broken)).status, 400);
    // The provisioning log writes in batches every ~100 ms.
    await new Promise((r) => setTimeout(r, 500));
  });

  after(async () => {
    await stopChild(server);
    rmSync(dir, { recursive: true, force: true });
  });

  /** The secrets, and the forms they could take in a header or a log line. */
  function secrets(): Record<string, string> {
    return {
      token,
      'Bearer <token>': `Bearer ${token}`,
      'the token without its prefix': token.slice('plmscim_'.length),
      'Basic credentials': Buffer.from(`scim:${token}`).toString('base64'),
      'wrong token': wrongToken,
      ...Object.fromEntries(Object.entries(passwords).map(([k, v]) => [`password (${k})`, v])),
    };
  }

  function storeBytes(): { file: string; bytes: Buffer }[] {
    return ['', '-wal', '-shm', '-journal'].map((s) => `${dbPath}${s}`).filter(existsSync).map((file) => ({ file, bytes: readFileSync(file) }));
  }

  function findIn(haystacks: { file: string; bytes: Buffer }[], needles: Record<string, string>): string[] {
    const found: string[] = [];
    for (const { file, bytes } of haystacks) {
      for (const [what, value] of Object.entries(needles)) {
        for (const enc of ['utf8', 'utf16le'] as const) {
          if (bytes.includes(Buffer.from(value, enc))) found.push(`${what} in ${file.replace(dir, '<tmp>')} (${enc})`);
        }
      }
    }
    return found;
  }

  /** Everything the process printed, less the one-time banner that shows the demo token to the operator. */
  function logOutput(): string {
    return server!.output().split('\n').filter((line) => !/^\s*API token:/.test(line)).join('\n');
  }

  test('the logs were captured and hold JSON request lines', () => {
    const out = logOutput();
    assert.match(out, /"msg":"incoming request"/);
    assert.match(out, /"msg":"request refused"/);
    assert.ok(!out.includes('API token:'));
  });

  test('no token or password appears in the log output', () => {
    const out = Buffer.from(logOutput(), 'utf8');
    assert.deepEqual(findIn([{ file: 'log', bytes: out }], secrets()), []);
    assert.ok(!/authorization"\s*:\s*"(Bearer|Basic|plmscim)/i.test(logOutput()), 'no Authorization header value is logged');
  });

  test('no token or password appears in the SQLite file or its WAL, while running', () => {
    const files = storeBytes();
    assert.ok(files.some((f) => f.file.endsWith('-wal')), 'WAL mode: a -wal file exists while running');
    assert.deepEqual(findIn(files, secrets()), []);
  });

  test('a password in a malformed body is not kept (in the store) or logged', () => {
    const found = findIn([...storeBytes(), { file: 'log', bytes: Buffer.from(logOutput(), 'utf8') }], { 'password in a malformed body': malformedPassword, 'its first 10 characters': malformedPassword.slice(0, 10) });
    assert.deepEqual(found, []);
  });

  test('tokens are stored only as a SHA-256 hex digest', () => {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT hash, hint FROM api_tokens').all() as { hash: string; hint: string }[];
      assert.equal(rows.length, 1);
      const [row] = rows;
      assert.match(row.hash, /^[0-9a-f]{64}$/);
      assert.notEqual(row.hash, token);
      assert.equal(row.hash, createHash('sha256').update(token, 'utf8').digest('hex'));
      assert.ok(row.hint.length <= 'plmscim_'.length + 5, `the hint is short: ${row.hint}`);
      assert.ok(!token.startsWith(row.hint.replace('…', '')) || row.hint.replace('…', '').length <= 12);
    } finally {
      db.close();
    }
  });

  test('after a clean shutdown (checkpointed WAL) the store still holds no secret', async () => {
    await stopChild(server);
    assert.deepEqual(findIn(storeBytes(), secrets()), []);
  });
});
