// Behaviours at the edges of the SCIM rules and of Plumm's own: each test
// states the rule it holds the service to.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../support/server.js';
import { ENTERPRISE_SCHEMA, ScimClient, assertScimError, assertStatus, filterQuery, patchBody, uniqueEmail, userBody } from '../support/http.js';

let server: TestServer;
let scim: ScimClient;

before(async () => {
  server = await startTestServer();
  const org = await server.createOrg({ name: 'edges' });
  scim = new ScimClient(server.scimUrl, org.token);
});

after(async () => {
  await server?.close();
});

async function newUser(extra: Record<string, unknown> = {}) {
  const res = await scim.post('/Users', userBody(uniqueEmail('edge'), extra));
  assertStatus(res, 201);
  return res.body;
}

async function deactivated() {
  const user = await newUser();
  assertStatus(await scim.patch(`/Users/${user.id}`, patchBody({ op: 'replace', value: { active: false } })), 200);
  return user;
}

describe('active is changed only when a request says so', () => {
  test('a PUT that leaves active out keeps a deactivated user deactivated', async () => {
    const user = await deactivated();
    const res = await scim.put(`/Users/${user.id}`, { userName: user.userName, emails: user.emails, displayName: 'Renamed' });
    assertStatus(res, 200);
    assert.equal(res.body.active, false);
    assert.equal(res.body.displayName, 'Renamed');
  });

  test('PATCH remove of active, or replace with null, does not reactivate', async () => {
    const user = await deactivated();
    assert.equal((await scim.patch(`/Users/${user.id}`, patchBody({ op: 'remove', path: 'active' }))).body.active, false);
    assert.equal((await scim.patch(`/Users/${user.id}`, patchBody({ op: 'replace', path: 'active', value: null }))).body.active, false);
    assert.equal((await scim.get(`/Users/${user.id}`)).body.active, false);
  });

  test('a create without active makes an active user', async () => {
    const res = await scim.post('/Users', { userName: uniqueEmail('noactive') });
    assertStatus(res, 201);
    assert.equal(res.body.active, true);
  });
});

describe('meta attributes in filters (RFC 7644 §3.4.2.2)', () => {
  test('meta.resourceType eq "User" matches every user; eq "Group" none', async () => {
    const user = await newUser();
    const all = await scim.get(filterQuery(`meta.resourceType eq "User" and id eq "${user.id}"`));
    assert.equal(all.body.totalResults, 1);
    const none = await scim.get(filterQuery(`meta.resourceType eq "Group" and id eq "${user.id}"`));
    assert.equal(none.body.totalResults, 0);
  });

  test('meta.location and meta.version are refused with 400 invalidFilter rather than matching nothing', async () => {
    assertScimError(await scim.get(filterQuery('meta.location pr')), 400, 'invalidFilter');
    assertScimError(await scim.get(filterQuery('meta.version eq "W/\\"1\\""')), 400, 'invalidFilter');
  });
});

describe('schema URNs in attributes and excludedAttributes (RFC 7644 §3.10)', () => {
  test('attributes=<enterprise URN> returns the extension object', async () => {
    const user = await newUser({ [ENTERPRISE_SCHEMA]: { department: 'Finance' } });
    const res = await scim.get(`/Users/${user.id}?attributes=${encodeURIComponent(ENTERPRISE_SCHEMA)}`);
    assert.deepEqual(res.body[ENTERPRISE_SCHEMA], { department: 'Finance' });
    assert.equal(res.body.userName, undefined);
  });

  test('excludedAttributes=<enterprise URN> leaves the extension out and keeps the rest', async () => {
    const user = await newUser({ [ENTERPRISE_SCHEMA]: { department: 'Finance' } });
    const res = await scim.get(`/Users/${user.id}?excludedAttributes=${encodeURIComponent(ENTERPRISE_SCHEMA)}`);
    assert.equal(res.body[ENTERPRISE_SCHEMA], undefined);
    assert.equal(res.body.userName, user.userName);
  });

  test('attributes=<core User URN> returns the core attributes without extensions', async () => {
    const user = await newUser({ [ENTERPRISE_SCHEMA]: { department: 'Finance' } });
    const res = await scim.get(`/Users/${user.id}?attributes=${encodeURIComponent('urn:ietf:params:scim:schemas:core:2.0:User')}`);
    assert.equal(res.body.userName, user.userName);
    assert.equal(res.body.displayName, 'Test User');
    assert.equal(res.body[ENTERPRISE_SCHEMA], undefined);
  });
});

describe('values that break the schema rules', () => {
  test('two emails marked primary are refused with 400 invalidValue (RFC 7643 §2.4)', async () => {
    const userName = uniqueEmail('twoprimary');
    const res = await scim.post('/Users', { userName, emails: [{ value: userName, primary: true }, { value: uniqueEmail('other'), primary: true }] });
    assertScimError(res, 400, 'invalidValue');
  });

  test('a userName spelt with combining characters is the same userName (Unicode NFC) and gets 409', async () => {
    const tag = uniqueEmail('x').split('@')[0].split('.')[1];
    const composed = `zo\u00eb.${tag}@ex\u00e4mple.com`;
    const decomposed = `zoe\u0308.${tag}@exa\u0308mple.com`;
    assertStatus(await scim.post('/Users', { userName: composed }), 201);
    assertScimError(await scim.post('/Users', { userName: decomposed.toUpperCase() }), 409, 'uniqueness');
    const found = await scim.get(filterQuery(`userName eq "${decomposed}"`));
    assert.equal(found.body.totalResults, 1);
  });

  test('a body that is not UTF-8 is refused with 400 invalidSyntax, not stored with replacement characters', async () => {
    const bytes = Buffer.concat([Buffer.from('{"userName":"'), Buffer.from([0xff, 0xfe]), Buffer.from('@example.com"}')]);
    const res = await fetch(`${server.scimUrl}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' },
      body: bytes,
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).scimType, 'invalidSyntax');
  });

  test('Entra clears the manager with {"value": ""}: the manager is removed', async () => {
    const manager = await newUser();
    const user = await newUser({ [ENTERPRISE_SCHEMA]: { manager: { value: manager.id }, department: 'Risk' } });
    const res = await scim.patch(
      `/Users/${user.id}`,
      patchBody({ op: 'Replace', path: `${ENTERPRISE_SCHEMA}:manager`, value: { value: '' } }),
    );
    assertStatus(res, 200);
    assert.deepEqual(res.body[ENTERPRISE_SCHEMA], { department: 'Risk' });
  });
});

describe('parameters and endpoints the service does not take', () => {
  test('an empty filter is refused with 400 invalidFilter', async () => {
    assertScimError(await scim.get('/Users?filter='), 400, 'invalidFilter');
  });

  test('a count that is not a whole number is refused with 400 invalidValue (RFC 7644 §3.4.2.4)', async () => {
    assertScimError(await scim.get('/Users?count=1.5'), 400, 'invalidValue');
  });

  test('/Me answers 501 (RFC 7644 §3.11) and /Bulk 501 (bulk.supported is false)', async () => {
    const me = await scim.get('/Me');
    assertScimError(me, 501);
    const bulk = await scim.post('/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] });
    assertScimError(bulk, 501);
  });
});

describe('token use', () => {
  test('a token that authenticated a request shows when it was last used', async () => {
    const { orgId, token } = await server.createOrg({ name: 'last used' });
    const client = new ScimClient(server.scimUrl, token);
    const before = Date.now();
    assertStatus(await client.get('/Users?count=1'), 200);
    const row = await server.server.store.db.selectFrom('api_tokens').select('last_used_at').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    assert.ok(row.last_used_at, 'last_used_at is set');
    assert.ok(Date.parse(row.last_used_at) >= before - 1000);
  });
});
