// The /Users resource over HTTP: CRUD and lifecycle under Plumm's rules
// (docs: PRODUCT.md, DESIGN.md) and RFC 7643/7644. Every expected value comes
// from the RFC section or the Plumm rule named in the test, not from the code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type TestServer, startTestServer } from '../support/server.js';
import {
  type Body,
  ENTERPRISE_SCHEMA,
  LIST_SCHEMA,
  SEARCH_SCHEMA,
  ScimClient,
  type ScimResponse,
  USER_SCHEMA,
  assertScimError,
  assertScimJson,
  assertStatus,
  filterQuery,
  patchBody,
  uniqueEmail,
  userBody,
} from '../support/http.js';

const CUSTOM_SCHEMA = 'urn:example:custom:1.0:User';

let server: TestServer;
let scim: ScimClient;

before(async () => {
  server = await startTestServer();
  const org = await server.createOrg({ name: 'users' });
  scim = new ScimClient(server.scimUrl, org.token);
});

after(async () => {
  await server?.close();
});

async function newOrg(opts: { usernameFormat?: 'email' | 'any'; name?: string } = {}): Promise<ScimClient> {
  const org = await server.createOrg(opts);
  return new ScimClient(server.scimUrl, org.token);
}

async function create(client: ScimClient, body: Record<string, unknown>): Promise<Body> {
  const res = await client.post('/Users', body);
  assertStatus(res, 201);
  return res.body;
}

async function read(client: ScimClient, id: string): Promise<Body> {
  const res = await client.get(`/Users/${id}`);
  assertStatus(res, 200);
  return res.body;
}

/** Plumm rule: a refused write applies nothing, so the stored user (meta.version included) is as before. */
async function assertUnchanged(client: ScimClient, before: Body): Promise<void> {
  const now = await read(client, before.id);
  assert.deepEqual(now, before, 'the refused request must leave the user exactly as it was');
}

function userNames(res: ScimResponse): string[] {
  return ((res.body?.Resources ?? []) as Body[]).map((r) => r.userName);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------

describe('POST /Users', () => {
  test('creates a user: 201 with id, meta, Location and ETag, and the attributes sent (RFC 7644 §3.3)', async () => {
    const email = uniqueEmail('create');
    const res = await scim.post('/Users', userBody(email, { name: { givenName: 'Ana', familyName: 'Lima' }, displayName: 'Ana Lima', externalId: 'okta-00u1' }));
    assertStatus(res, 201);
    assertScimJson(res);
    const u = res.body;
    assert.equal(typeof u.id, 'string');
    assert.ok(u.id.length > 0);
    assert.ok(u.schemas.includes(USER_SCHEMA));
    assert.equal(u.userName, email);
    assert.deepEqual(u.name, { givenName: 'Ana', familyName: 'Lima' });
    assert.equal(u.displayName, 'Ana Lima');
    assert.equal(u.externalId, 'okta-00u1');
    assert.equal(u.active, true);
    assert.deepEqual(u.emails, [{ value: email, type: 'work', primary: true }]);
    assert.equal(u.meta.resourceType, 'User');
    assert.ok(!Number.isNaN(Date.parse(u.meta.created)), 'meta.created is a dateTime');
    assert.ok(!Number.isNaN(Date.parse(u.meta.lastModified)), 'meta.lastModified is a dateTime');
    assert.ok(String(u.meta.location).endsWith(`/Users/${u.id}`), 'meta.location is the user URI');
    assert.equal(res.headers.get('location'), u.meta.location, 'Location header equals meta.location (RFC 7644 §3.3)');
    assert.equal(res.headers.get('etag'), u.meta.version, 'ETag header equals meta.version (RFC 7644 §3.14)');
    const got = await read(scim, u.id);
    assert.deepEqual(got, u, 'GET returns what POST returned');
  });

  test('a client-supplied id and meta are ignored: the service issues the id (RFC 7643 §3.1)', async () => {
    const res = await scim.post('/Users', userBody(uniqueEmail(), { id: 'client-chosen-id', meta: { created: '2001-01-01T00:00:00Z' } }));
    assertStatus(res, 201);
    assert.notEqual(res.body.id, 'client-chosen-id');
    assert.notEqual(res.body.meta.created, '2001-01-01T00:00:00Z');
  });

  test('a password is accepted and never returned (RFC 7643 §4.1.1 returned "never")', async () => {
    const email = uniqueEmail('pw');
    const res = await scim.post('/Users', userBody(email, { password: 'S3cret!pass' }));
    assertStatus(res, 201);
    assert.ok(!('password' in res.body), res.describe);
    assert.ok(!res.text.includes('S3cret!pass'));
    const got = await scim.get(`/Users/${res.body.id}?attributes=password,userName`);
    assertStatus(got, 200);
    assert.ok(!('password' in got.body), `asked-for password still never returned: ${got.describe}`);
    const list = await scim.get(filterQuery(`userName eq "${email}"`));
    assert.ok(!list.text.includes('S3cret!pass'), list.describe);
  });

  test('a userName already taken in another case is refused with 409 uniqueness (Plumm: unique per org regardless of case)', async () => {
    const email = uniqueEmail('taken');
    const first = await create(scim, userBody(email));
    const res = await scim.post('/Users', userBody(email.toUpperCase()));
    assertScimError(res, 409, 'uniqueness');
    await assertUnchanged(scim, first);
  });

  test('the same userName in another organization is allowed (uniqueness is per organization)', async () => {
    const email = uniqueEmail('twice');
    await create(scim, userBody(email));
    const other = await newOrg();
    assertStatus(await other.post('/Users', userBody(email)), 201);
  });

  test('20 parallel POSTs of one userName: exactly one 201, the rest 409 uniqueness', async () => {
    const email = uniqueEmail('race');
    const results = await Promise.all(Array.from({ length: 20 }, () => scim.post('/Users', userBody(email))));
    const created = results.filter((r) => r.status === 201);
    assert.equal(created.length, 1, `statuses: ${results.map((r) => r.status).join(',')}`);
    for (const r of results.filter((x) => x.status !== 201)) assertScimError(r, 409, 'uniqueness');
    const list = await scim.get(filterQuery(`userName eq "${email}"`));
    assert.equal(list.body.totalResults, 1, list.describe);
  });

  test('20 parallel POSTs of one userName in different cases: exactly one 201, the rest 409 uniqueness', async () => {
    const email = uniqueEmail('racecase');
    const variants = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? email : email.toUpperCase()));
    const results = await Promise.all(variants.map((v) => scim.post('/Users', userBody(v, { emails: [{ value: email, type: 'work', primary: true }] }))));
    assert.equal(results.filter((r) => r.status === 201).length, 1, `statuses: ${results.map((r) => r.status).join(',')}`);
    for (const r of results.filter((x) => x.status !== 201)) assertScimError(r, 409, 'uniqueness');
  });

  test('a missing userName is refused with 400 invalidValue (RFC 7643 §4.1.1 required; RFC 7644 §3.12)', async () => {
    const body = userBody(uniqueEmail());
    delete body.userName;
    assertScimError(await scim.post('/Users', body), 400, 'invalidValue');
  });

  test('org format email: a userName that is not an email is refused with 400 invalidValue pointing at the Email username format', async () => {
    const res = await scim.post('/Users', userBody('jdoe', { emails: [{ value: 'jdoe@example.com', type: 'work', primary: true }] }));
    assertScimError(res, 400, 'invalidValue', /username format/i);
    assert.match(res.body.detail, /email/i, res.describe);
  });

  test('org format any: a userName that is not an email is accepted when the user has an email', async () => {
    const any = await newOrg({ usernameFormat: 'any' });
    const res = await any.post('/Users', userBody('jdoe-any', { emails: [{ value: uniqueEmail('jdoe'), type: 'work', primary: true }] }));
    assertStatus(res, 201);
    assert.equal(res.body.userName, 'jdoe-any');
  });

  test('org format any: a user without any email is refused with 400 and a detail that says an email is needed', async () => {
    const any = await newOrg({ usernameFormat: 'any' });
    const body = userBody('no-mail-user');
    delete body.emails;
    const res = await any.post('/Users', body);
    assertScimError(res, 400, 'invalidValue', /email/i);
  });

  test('an unknown extension object is kept, returned, and listed in schemas', async () => {
    const custom = { costCode: 'CC-12', badges: ['a', 'b'], nested: { level: 2, flag: true } };
    const res = await scim.post('/Users', userBody(uniqueEmail('ext'), { schemas: [USER_SCHEMA, CUSTOM_SCHEMA], [CUSTOM_SCHEMA]: custom }));
    assertStatus(res, 201);
    assert.deepEqual(res.body[CUSTOM_SCHEMA], custom, res.describe);
    assert.ok(res.body.schemas.includes(CUSTOM_SCHEMA), `schemas should list ${CUSTOM_SCHEMA}: ${res.describe}`);
    const got = await read(scim, res.body.id);
    assert.deepEqual(got[CUSTOM_SCHEMA], custom);
    assert.ok(got.schemas.includes(CUSTOM_SCHEMA));
  });

  test('the enterprise extension is kept, returned, and listed in schemas (RFC 7643 §4.3)', async () => {
    const manager = await create(scim, userBody(uniqueEmail('boss')));
    const ent = { employeeNumber: '701', costCenter: 'CC1', organization: 'Plumm', division: 'Ops', department: 'Care', manager: { value: manager.id } };
    const res = await scim.post('/Users', userBody(uniqueEmail('ent'), { schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA], [ENTERPRISE_SCHEMA]: ent }));
    assertStatus(res, 201);
    const got = res.body[ENTERPRISE_SCHEMA];
    for (const key of ['employeeNumber', 'costCenter', 'organization', 'division', 'department']) assert.equal(got?.[key], (ent as Body)[key], key);
    assert.equal(got.manager.value, manager.id);
    assert.ok(res.body.schemas.includes(ENTERPRISE_SCHEMA));
  });

  test('schemas lists no extension the user does not have (RFC 7643 §3)', async () => {
    const res = await scim.post('/Users', userBody(uniqueEmail('plain'), { schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA] }));
    assertStatus(res, 201);
    assert.ok(res.body.schemas.includes(USER_SCHEMA));
    assert.ok(!res.body.schemas.includes(CUSTOM_SCHEMA));
    if (res.body[ENTERPRISE_SCHEMA] === undefined) assert.ok(!res.body.schemas.includes(ENTERPRISE_SCHEMA), res.describe);
  });
});

// ---------------------------------------------------------------------------

describe('GET /Users/:id', () => {
  test('an unknown id answers 404 SCIM JSON', async () => {
    assertScimError(await scim.get('/Users/7d4b1b58-0000-4000-8000-000000000000'), 404);
  });

  test('attributes=userName returns userName plus id and schemas only (RFC 7644 §3.4.2.5, §3.9)', async () => {
    const u = await create(scim, userBody(uniqueEmail('proj'), { title: 'Nurse' }));
    const res = await scim.get(`/Users/${u.id}?attributes=userName`);
    assertStatus(res, 200);
    assert.equal(res.body.id, u.id);
    assert.deepEqual(res.body.schemas, u.schemas);
    assert.equal(res.body.userName, u.userName);
    for (const key of ['name', 'emails', 'displayName', 'title', 'active']) assert.ok(!(key in res.body), `${key} should be left out: ${res.describe}`);
  });

  test('excludedAttributes leaves out what is named, sub-attributes too, and never id or schemas', async () => {
    const u = await create(scim, userBody(uniqueEmail('excl'), { name: { givenName: 'Ex', familyName: 'Cluded' } }));
    const res = await scim.get(`/Users/${u.id}?excludedAttributes=emails,name.givenName,id,schemas`);
    assertStatus(res, 200);
    assert.ok(!('emails' in res.body), res.describe);
    assert.deepEqual(res.body.name, { familyName: 'Cluded' });
    assert.equal(res.body.id, u.id, 'id is returned "always"');
    assert.deepEqual(res.body.schemas, u.schemas, 'schemas are always returned');
    assert.equal(res.body.userName, u.userName);
  });
});

// ---------------------------------------------------------------------------

describe('PUT /Users/:id', () => {
  test('replaces the values sent; id and meta.created stay, the version changes (RFC 7644 §3.5.1)', async () => {
    const email = uniqueEmail('put');
    const u = await create(scim, userBody(email));
    await sleep(5);
    const res = await scim.put(`/Users/${u.id}`, userBody(email, { name: { givenName: 'Test', familyName: 'Renamed' }, displayName: 'Test Renamed', title: 'Lead' }));
    assertStatus(res, 200);
    assert.equal(res.body.id, u.id);
    assert.equal(res.body.name.familyName, 'Renamed');
    assert.equal(res.body.displayName, 'Test Renamed');
    assert.equal(res.body.title, 'Lead');
    assert.equal(res.body.meta.created, u.meta.created);
    assert.notEqual(res.body.meta.version, u.meta.version);
    assert.ok(Date.parse(res.body.meta.lastModified) > Date.parse(u.meta.lastModified), 'lastModified moves forward');
    assert.deepEqual(await read(scim, u.id), res.body);
  });

  test('a PUT that changes userName is refused with 400 mutability and applies nothing (Plumm rule)', async () => {
    const email = uniqueEmail('putuser');
    const u = await create(scim, userBody(email));
    const other = uniqueEmail('putother');
    const res = await scim.put(`/Users/${u.id}`, userBody(other, { displayName: 'Changed', emails: [{ value: email, type: 'work', primary: true }] }));
    assertScimError(res, 400, 'mutability');
    await assertUnchanged(scim, u);
  });

  test('a PUT that changes the primary email is refused with 400 mutability and applies nothing (Plumm rule)', async () => {
    const email = uniqueEmail('putmail');
    const u = await create(scim, userBody(email));
    const res = await scim.put(`/Users/${u.id}`, userBody(email, { displayName: 'Changed', emails: [{ value: uniqueEmail('new'), type: 'work', primary: true }] }));
    assertScimError(res, 400, 'mutability');
    await assertUnchanged(scim, u);
  });

  test('a PUT with the same userName and email in another case is not a change: 200', async () => {
    const email = uniqueEmail('putcase');
    const u = await create(scim, userBody(email));
    const upper = email.toUpperCase();
    const res = await scim.put(`/Users/${u.id}`, userBody(upper, { displayName: 'Case Only' }));
    assertStatus(res, 200);
    assert.equal(res.body.displayName, 'Case Only');
    assert.equal(String(res.body.userName).toLowerCase(), email);
  });

  test('a PUT with active false deactivates: the user is still readable and listable with active false', async () => {
    const email = uniqueEmail('putoff');
    const u = await create(scim, userBody(email));
    const res = await scim.put(`/Users/${u.id}`, userBody(email, { active: false }));
    assertStatus(res, 200);
    assert.equal(res.body.active, false);
    assert.equal((await read(scim, u.id)).active, false);
    const list = await scim.get(filterQuery(`userName eq "${email}"`));
    assert.equal(list.body.totalResults, 1);
    assert.equal(list.body.Resources[0].active, false);
  });

  test('a PUT to an unknown id answers 404', async () => {
    assertScimError(await scim.put('/Users/7d4b1b58-0000-4000-8000-000000000001', userBody(uniqueEmail())), 404);
  });
});

// ---------------------------------------------------------------------------

describe('PATCH /Users/:id', () => {
  test('replace with a path changes that attribute (RFC 7644 §3.5.2.3)', async () => {
    const u = await create(scim, userBody(uniqueEmail('p1')));
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'displayName', value: 'Patched Name' }));
    assertStatus(res, 200);
    assert.equal(res.body.displayName, 'Patched Name');
    assert.equal((await read(scim, u.id)).displayName, 'Patched Name');
  });

  test('path-less replace {active:false} deactivates; the user stays readable and listable with active false (Okta)', async () => {
    const email = uniqueEmail('deact');
    const u = await create(scim, userBody(email));
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', value: { active: false } }));
    assertStatus(res, 200);
    assert.equal(res.body.active, false);
    const got = await read(scim, u.id);
    assert.equal(got.active, false);
    assert.equal(got.displayName, u.displayName, 'data is kept');
    const byName = await scim.get(filterQuery(`userName eq "${email}"`));
    assert.equal(byName.body.totalResults, 1);
    assert.equal(byName.body.Resources[0].active, false);
    const inactive = await scim.get(filterQuery(`active eq false and userName eq "${email}"`));
    assert.equal(inactive.body.totalResults, 1, inactive.describe);
  });

  test('path "active" with the string "False" deactivates and "True" reactivates (Entra)', async () => {
    const u = await create(scim, userBody(uniqueEmail('entra-active')));
    const off = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'Replace', path: 'active', value: 'False' }));
    assertStatus(off, 200);
    assert.strictEqual(off.body.active, false);
    const on = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'Replace', path: 'active', value: 'True' }));
    assertStatus(on, 200);
    assert.strictEqual(on.body.active, true);
  });

  test('path-less replace {active:true} reactivates a deactivated user', async () => {
    const u = await create(scim, userBody(uniqueEmail('react'), { active: false }));
    assert.equal(u.active, false);
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', value: { active: true } }));
    assertStatus(res, 200);
    assert.equal(res.body.active, true);
    assert.equal((await read(scim, u.id)).active, true);
  });

  test('a PATCH changing displayName AND userName is refused with 400 mutability and leaves displayName unchanged', async () => {
    const u = await create(scim, userBody(uniqueEmail('both')));
    const res = await scim.patch(
      `/Users/${u.id}`,
      patchBody({ op: 'replace', path: 'displayName', value: 'Should Not Stick' }, { op: 'replace', path: 'userName', value: uniqueEmail('renamed') }),
    );
    assertScimError(res, 400, 'mutability');
    await assertUnchanged(scim, u);
  });

  test('a path-less PATCH whose value changes userName is refused with 400 mutability and applies nothing', async () => {
    const u = await create(scim, userBody(uniqueEmail('pathless')));
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', value: { displayName: 'Nope', userName: uniqueEmail('x') } }));
    assertScimError(res, 400, 'mutability');
    await assertUnchanged(scim, u);
  });

  test('a PATCH changing the primary email through a value filter is refused with 400 mutability and applies nothing', async () => {
    const u = await create(scim, userBody(uniqueEmail('pmail')));
    const res = await scim.patch(
      `/Users/${u.id}`,
      patchBody({ op: 'replace', path: 'title', value: 'Nope' }, { op: 'replace', path: 'emails[primary eq true].value', value: uniqueEmail('other') }),
    );
    assertScimError(res, 400, 'mutability');
    await assertUnchanged(scim, u);
  });

  test('a PATCH replacing emails with another primary address is refused with 400 mutability', async () => {
    const u = await create(scim, userBody(uniqueEmail('pmail2')));
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'emails', value: [{ value: uniqueEmail('new'), type: 'work', primary: true }] }));
    assertScimError(res, 400, 'mutability');
    await assertUnchanged(scim, u);
  });

  test('a PATCH setting userName to the same value in another case is not a change: 200', async () => {
    const u = await create(scim, userBody(uniqueEmail('pcase')));
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'userName', value: String(u.userName).toUpperCase() }, { op: 'replace', path: 'nickName', value: 'Casey' }));
    assertStatus(res, 200);
    assert.equal(res.body.nickName, 'Casey');
  });

  test('adding a secondary email keeps the primary and is allowed', async () => {
    const u = await create(scim, userBody(uniqueEmail('second')));
    const home = uniqueEmail('home', 'home.test');
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'add', path: 'emails', value: [{ value: home, type: 'home' }] }));
    assertStatus(res, 200);
    const values = res.body.emails.map((e: Body) => e.value);
    assert.ok(values.includes(home) && values.includes(u.userName), res.describe);
  });

  test('a password sent by PATCH is accepted and never returned', async () => {
    const u = await create(scim, userBody(uniqueEmail('ppw')));
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'password', value: 'N3w-pass!' }));
    assertStatus(res, 200);
    assert.ok(!('password' in res.body));
    assert.ok(!res.text.includes('N3w-pass!'));
  });

  test('remove without a path is refused with 400 noTarget (RFC 7644 §3.5.2.2)', async () => {
    const u = await create(scim, userBody(uniqueEmail('nopath')));
    assertScimError(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'remove' })), 400, 'noTarget');
  });

  test('a path naming an attribute the schema does not have is refused with 400 invalidPath (RFC 7644 §3.12)', async () => {
    const u = await create(scim, userBody(uniqueEmail('badpath')));
    assertScimError(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'noSuchAttribute', value: 'x' })), 400, 'invalidPath');
  });

  test('a PatchOp without Operations is refused with 400 invalidSyntax', async () => {
    const u = await create(scim, userBody(uniqueEmail('noops')));
    assertScimError(await scim.patch(`/Users/${u.id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'] }), 400, 'invalidSyntax');
  });

  test('one failing operation rolls back the ones before it (RFC 7644 §3.5.2: a PATCH is atomic)', async () => {
    const u = await create(scim, userBody(uniqueEmail('atomic')));
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'displayName', value: 'Half' }, { op: 'replace', path: 'noSuchAttribute', value: 1 }));
    assert.equal(res.status, 400, res.describe);
    await assertUnchanged(scim, u);
  });

  test('a PATCH to an unknown id answers 404', async () => {
    assertScimError(await scim.patch('/Users/7d4b1b58-0000-4000-8000-000000000002', patchBody({ op: 'replace', path: 'active', value: false })), 404);
  });
});

// ---------------------------------------------------------------------------

describe('DELETE /Users/:id', () => {
  test('answers 204; afterwards GET, PUT, PATCH and DELETE answer 404 and lists leave the user out', async () => {
    const email = uniqueEmail('del');
    const u = await create(scim, userBody(email));
    const del = await scim.delete(`/Users/${u.id}`);
    assertStatus(del, 204);
    assert.equal(del.text, '', 'a 204 has no body');
    assertScimError(await scim.get(`/Users/${u.id}`), 404);
    assertScimError(await scim.put(`/Users/${u.id}`, userBody(email)), 404);
    assertScimError(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'active', value: true })), 404);
    assertScimError(await scim.delete(`/Users/${u.id}`), 404);
    const list = await scim.get(filterQuery(`userName eq "${email}"`));
    assert.equal(list.body.totalResults, 0, list.describe);
    const byId = await scim.get(filterQuery(`id eq "${u.id}"`));
    assert.equal(byId.body.totalResults, 0, byId.describe);
  });

  test('a deleted userName is free for a new POST: 201 with a new id', async () => {
    const email = uniqueEmail('reuse');
    const u = await create(scim, userBody(email));
    assertStatus(await scim.delete(`/Users/${u.id}`), 204);
    const again = await scim.post('/Users', userBody(email));
    assertStatus(again, 201);
    assert.notEqual(again.body.id, u.id);
  });

  test('DELETE of an unknown id answers 404', async () => {
    assertScimError(await scim.delete('/Users/7d4b1b58-0000-4000-8000-000000000003'), 404);
  });
});

// ---------------------------------------------------------------------------

describe('tenant isolation (DESIGN: a foreign id is simply "not found")', () => {
  test("org B's token cannot read, replace, patch or delete org A's user, nor see it in a list", async () => {
    const a = await newOrg({ name: 'iso-a' });
    const b = await newOrg({ name: 'iso-b' });
    const email = uniqueEmail('isolated');
    const u = await create(a, userBody(email));
    assertScimError(await b.get(`/Users/${u.id}`), 404);
    assertScimError(await b.put(`/Users/${u.id}`, userBody(email, { displayName: 'Hijacked' })), 404);
    assertScimError(await b.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'active', value: false })), 404);
    assertScimError(await b.delete(`/Users/${u.id}`), 404);
    const all = await b.get('/Users?count=200');
    assertStatus(all, 200);
    assert.ok(!all.text.includes(u.id), all.describe);
    assert.equal((await b.get(filterQuery(`userName eq "${email}"`))).body.totalResults, 0);
    assert.equal((await b.get(filterQuery(`id eq "${u.id}"`))).body.totalResults, 0);
    const search = await b.post('/Users/.search', { schemas: [SEARCH_SCHEMA], filter: `userName eq "${email}"` });
    assert.equal(search.body.totalResults, 0, search.describe);
    await assertUnchanged(a, u);
  });
});

// ---------------------------------------------------------------------------
// Filtering (RFC 7644 §3.4.2.2) over a seeded organization of eight users.

const SEED: Record<string, Record<string, unknown>> = {
  alice: {
    userName: 'alice.anders@example.com',
    name: { givenName: 'Alice', familyName: 'Price' },
    displayName: 'Alice Price',
    nickName: 'Al',
    title: 'Engineer',
    userType: 'Employee',
    active: true,
    externalId: 'ext-001',
    emails: [
      { value: 'alice.anders@example.com', type: 'work', primary: true },
      { value: 'alice@home.test', type: 'home' },
    ],
    phoneNumbers: [{ value: '+1 555 0100', type: 'work' }],
    [ENTERPRISE_SCHEMA]: { employeeNumber: '1001', department: 'Engineering', manager: { value: 'm-1' } },
  },
  bob: {
    userName: 'bob.brown@example.com',
    name: { givenName: 'Bob', familyName: 'Baker' },
    displayName: 'Bob Baker',
    title: 'Engineer',
    userType: 'Contractor',
    active: false,
    externalId: 'ext-002',
    emails: [{ value: 'bob.brown@example.com', type: 'work', primary: true }],
    [ENTERPRISE_SCHEMA]: { employeeNumber: '1002', department: 'Engineering' },
  },
  carol: {
    userName: 'carol.clark@example.org',
    name: { givenName: 'Carol', familyName: 'Zhou' },
    displayName: 'Carol Zhou',
    title: 'Manager',
    userType: 'Employee',
    active: true,
    externalId: 'EXT-003',
    emails: [
      { value: 'carol.clark@example.org', type: 'work', primary: true },
      { value: 'carol@corp.example.com', type: 'other' },
    ],
    [ENTERPRISE_SCHEMA]: { department: 'Sales' },
  },
  dave: {
    userName: 'dave.davis@example.org',
    name: { givenName: 'Dave', familyName: 'Clark' },
    displayName: 'Dave Clark',
    userType: 'Employee',
    active: true,
    externalId: 'ext-004',
    emails: [{ value: 'dave.davis@example.org', type: 'work', primary: true }],
    phoneNumbers: [{ value: '+1 555 0199', type: 'mobile' }],
    [ENTERPRISE_SCHEMA]: { department: 'Sales' },
  },
  eve: {
    userName: 'eve.evans@example.net',
    name: { givenName: 'Eve', familyName: 'Evans' },
    displayName: 'Eve "The Boss" Evans',
    title: 'Director',
    active: true,
    externalId: 'ext-005',
    emails: [{ value: 'eve.evans@example.net', type: 'work', primary: true }],
    [CUSTOM_SCHEMA]: { costCode: 'CC-7' },
  },
  frank: {
    userName: 'frank.fisher@example.net',
    name: { givenName: 'Frank', familyName: 'Ortiz' },
    displayName: 'Frank Ortiz',
    title: 'Engineer',
    userType: 'Intern',
    active: false,
    emails: [{ value: 'frank.fisher@example.net', type: 'work', primary: true }],
  },
  grace: {
    userName: 'grace.green@example.com',
    name: { givenName: 'grace', familyName: 'Green' },
    displayName: 'Grace Green',
    title: 'engineer',
    userType: 'Employee',
    active: true,
    externalId: 'ext-007',
    emails: [
      { value: 'grace.green@example.com', type: 'work', primary: true },
      { value: 'grace@home.test', type: 'home' },
    ],
  },
  heidi: {
    userName: 'heidi.hill@example.com',
    name: { givenName: 'Heidi', familyName: 'Adams' },
    displayName: 'Heidi Adams',
    nickName: 'Hei',
    title: 'Analyst',
    active: true,
    externalId: 'ext-008',
    emails: [{ value: 'heidi.hill@example.com', type: 'work', primary: true }],
    [ENTERPRISE_SCHEMA]: { employeeNumber: '2002', department: 'Risk' },
  },
};
const ORDER = Object.keys(SEED);
/** The seeded users by name.familyName: Adams, Baker, Clark, Evans, Green, Ortiz, Price, Zhou. */
const BY_FAMILY_NAME = ['heidi', 'bob', 'dave', 'eve', 'grace', 'frank', 'alice', 'carol'];
const ALL = [...ORDER];
const but = (...names: string[]) => ALL.filter((n) => !names.includes(n));
const ENT = ENTERPRISE_SCHEMA;

describe('filtering (RFC 7644 §3.4.2.2)', () => {
  let fx: ScimClient;
  const seeded: Record<string, Body> = {};
  const nameOf = (userName: string) => ORDER.find((n) => SEED[n].userName === userName) ?? userName;

  before(async () => {
    fx = await newOrg({ name: 'filters' });
    // One at a time, a few ms apart, so meta.created orders them.
    for (const key of ORDER) {
      const extra = Object.keys(SEED[key]).filter((k) => k.startsWith('urn:'));
      seeded[key] = await create(fx, { schemas: [USER_SCHEMA, ...extra], ...SEED[key] });
      await sleep(15);
    }
  });

  async function names(filter: string, extra = '&count=200'): Promise<string[]> {
    const res = await fx.get(filterQuery(filter, extra));
    assertStatus(res, 200);
    assert.deepEqual(res.body.schemas, [LIST_SCHEMA]);
    assert.equal(res.body.totalResults, res.body.Resources?.length ?? 0, `totalResults should count the matches: ${res.describe}`);
    return userNames(res).map(nameOf).sort();
  }

  const CASES: [string, string[]][] = [
    ['userName eq "alice.anders@example.com"', ['alice']],
    ['userName eq "ALICE.ANDERS@EXAMPLE.COM"', ['alice']], // userName caseExact false (RFC 7643 §4.1.1)
    ['USERNAME EQ "alice.anders@example.com"', ['alice']], // names and operators are case-insensitive
    ['userName ne "alice.anders@example.com"', but('alice')],
    ['userName sw "b"', ['bob']],
    ['userName ew "@example.org"', ['carol', 'dave']],
    ['userName co "EXAMPLE.NET"', ['eve', 'frank']],
    ['userName gt "frank"', ['frank', 'grace', 'heidi']],
    ['userName lt "bob"', ['alice']],
    ['userName le "bob.brown@example.com"', ['alice', 'bob']],
    ['userName ge "heidi"', ['heidi']],
    ['userName eq "nobody@example.com"', []],
    ['title pr', but('dave')],
    ['not (title pr)', ['dave']],
    ['title eq "engineer"', ['alice', 'bob', 'frank', 'grace']],
    ['title eq "Engineer" and active eq true', ['alice', 'grace']],
    ['active eq false', ['bob', 'frank']],
    ['active eq true', but('bob', 'frank')],
    ['title eq "Manager" or title eq "Director"', ['carol', 'eve']],
    // and binds tighter than or
    ['title eq "Director" or title eq "Engineer" and active eq false', ['bob', 'eve', 'frank']],
    ['(title eq "Director" or title eq "Engineer") and active eq false', ['bob', 'frank']],
    ['not (userType eq "Employee")', ['bob', 'eve', 'frank', 'heidi']],
    ['userType eq "Employee" and (title eq "Manager" or name.givenName eq "Dave")', ['carol', 'dave']],
    ['title Eq "ENGINEER" AND userType Eq "employee"', ['alice', 'grace']],
    ['(userName sw "a" or userName sw "b") and not (active eq false)', ['alice']],
    ['name.givenName eq "GRACE"', ['grace']],
    ['name.familyName ge "o"', ['alice', 'carol', 'frank']],
    ['name.familyName lt "C"', ['bob', 'heidi']],
    ['name.familyName le "clark"', ['bob', 'dave', 'heidi']],
    ['emails[type eq "home"]', ['alice', 'grace']],
    ['emails[type eq "work" and value co "example.org"]', ['carol', 'dave']],
    ['emails[type eq "other" and value ew "example.com"]', ['carol']],
    ['emails[not (type eq "work")]', ['alice', 'carol', 'grace']],
    ['emails[type eq "work"] and not (emails[type eq "home"])', but('alice', 'grace')],
    ['emails.type eq "home"', ['alice', 'grace']],
    ['emails co "home.test"', ['alice', 'grace']],
    ['emails.value ew "@home.test"', ['alice', 'grace']],
    ['emails[type eq "work" and value ew ".net"] or phoneNumbers[type eq "mobile"]', ['dave', 'eve', 'frank']],
    ['phoneNumbers pr', ['alice', 'dave']],
    [`${ENT}:department eq "Sales"`, ['carol', 'dave']],
    [`${ENT}:manager.value eq "m-1"`, ['alice']],
    [`${ENT}:employeeNumber gt "1500"`, ['heidi']],
    [`${ENT}:department pr`, ['alice', 'bob', 'carol', 'dave', 'heidi']],
    [`not (${ENT}:department pr)`, ['eve', 'frank', 'grace']],
    [`${USER_SCHEMA}:userName sw "heidi"`, ['heidi']],
    [`${USER_SCHEMA}:name.familyName eq "ADAMS"`, ['heidi']],
    ['externalId eq "ext-003"', []], // externalId is caseExact (RFC 7643 §3.1)
    ['externalId eq "EXT-003"', ['carol']],
    ['externalId pr', but('frank')],
    ['displayName eq "Eve \\"The Boss\\" Evans"', ['eve']], // JSON string escapes
    ['displayName co "\\u0022The Boss\\u0022"', ['eve']],
    ['nickName pr and not (nickName eq "Al")', ['heidi']],
    // Examples from RFC 7644 §3.4.2.2 itself
    ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', ['alice', 'carol', 'dave', 'grace']],
    [`schemas eq "${ENT}"`, ['alice', 'bob', 'carol', 'dave', 'heidi']],
  ];

  for (const [filter, expected] of CASES) {
    test(`filter ${filter} matches ${expected.length === 0 ? 'nobody' : expected.join(', ')}`, async () => {
      assert.deepEqual(await names(filter), [...expected].sort());
    });
  }

  test('id eq "<id>" matches that user', async () => {
    assert.deepEqual(await names(`id eq "${seeded.alice.id}"`), ['alice']);
  });

  test('meta.created and meta.lastModified compare as instants, whatever the offset written', async () => {
    const at = (key: string) => seeded[key].meta.created as string;
    // The same instant as dave's creation, written with a +02:00 offset.
    const d = new Date(Date.parse(at('dave')) + 2 * 3600_000).toISOString().replace('Z', '+02:00');
    assert.deepEqual(await names(`meta.created gt "${at('dave')}"`), ['eve', 'frank', 'grace', 'heidi']);
    assert.deepEqual(await names(`meta.created ge "${d}"`), ['dave', 'eve', 'frank', 'grace', 'heidi']);
    assert.deepEqual(await names(`meta.created lt "${at('carol')}"`), ['alice', 'bob']);
    assert.deepEqual(await names(`meta.lastModified le "${at('bob')}"`), ['alice', 'bob']);
    assert.deepEqual(await names(`meta.created ge "${at('bob')}" and meta.created le "${at('carol')}"`), ['bob', 'carol']);
  });

  const MALFORMED = [
    'userName eq',
    'userName eq "unterminated',
    'userName zz "x"',
    '(userName eq "x"',
    'userName eq "x")',
    'userName eq x',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    'and userName eq "x"',
    'not userName eq "x"',
    'userName eq "a" or',
    'userName eq "a" userName eq "b"',
    'userName pr "x"',
    'userName eq "\\q"',
  ];
  for (const filter of MALFORMED) {
    test(`malformed filter ${filter} is refused with 400 invalidFilter`, async () => {
      assertScimError(await fx.get(filterQuery(filter)), 400, 'invalidFilter');
    });
  }

  const UNKNOWN = [
    'noSuchAttribute eq "x"',
    'noSuchAttribute pr',
    'name.noSuch eq "x"',
    `${ENT}:noSuch eq "x"`,
    'emails[noSuch eq "x"]',
    'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"',
  ];
  for (const filter of UNKNOWN) {
    test(`filter on an unknown attribute ${filter} is refused with 400 invalidFilter`, async () => {
      assertScimError(await fx.get(filterQuery(filter)), 400, 'invalidFilter');
    });
  }

  test('POST /Users/.search with a SearchRequest answers like the same GET (RFC 7644 §3.4.3)', async () => {
    const search = await fx.post('/Users/.search', {
      schemas: [SEARCH_SCHEMA],
      filter: 'title eq "Engineer"',
      sortBy: 'userName',
      sortOrder: 'descending',
      startIndex: 1,
      count: 2,
      attributes: ['userName'],
    });
    assertStatus(search, 200);
    assertScimJson(search);
    assert.deepEqual(search.body.schemas, [LIST_SCHEMA]);
    assert.equal(search.body.totalResults, 4);
    assert.deepEqual(userNames(search).map(nameOf), ['grace', 'frank']);
    for (const r of search.body.Resources) assert.ok(!('emails' in r), 'attributes apply');
    const get = await fx.get(filterQuery('title eq "Engineer"', '&sortBy=userName&sortOrder=descending&startIndex=1&count=2&attributes=userName'));
    assert.deepEqual(search.body, get.body);
  });

  test('POST /Users/.search with a malformed filter is refused with 400 invalidFilter', async () => {
    assertScimError(await fx.post('/Users/.search', { schemas: [SEARCH_SCHEMA], filter: 'userName eq' }), 400, 'invalidFilter');
  });

  // Sorting (RFC 7644 §3.4.2.3)

  async function sorted(query: string): Promise<string[]> {
    const res = await fx.get(`/Users?${query}`);
    assertStatus(res, 200);
    return userNames(res).map(nameOf);
  }

  test('sortBy=name.familyName sorts ascending by default', async () => {
    assert.deepEqual(await sorted('sortBy=name.familyName'), BY_FAMILY_NAME);
  });

  test('sortBy=name.familyName&sortOrder=descending sorts descending', async () => {
    assert.deepEqual(await sorted('sortBy=name.familyName&sortOrder=descending'), [...BY_FAMILY_NAME].reverse());
  });

  test('sortBy attribute names are case-insensitive', async () => {
    assert.deepEqual(await sorted('sortBy=USERNAME&sortOrder=descending'), [...ORDER].reverse());
  });

  test('strings sort without regard to case when the attribute is not caseExact ("grace" between Frank and Heidi)', async () => {
    assert.deepEqual(await sorted('sortBy=name.givenName&sortOrder=descending'), [...ORDER].reverse());
  });

  test('a multi-valued attribute sorts by its primary value', async () => {
    assert.deepEqual(await sorted('sortBy=emails.value&sortOrder=descending'), [...ORDER].reverse());
  });

  test('sortBy=meta.created descending puts the newest first', async () => {
    assert.deepEqual(await sorted('sortBy=meta.created&sortOrder=descending'), [...ORDER].reverse());
  });

  test('sortBy an extension attribute, with a filter', async () => {
    assert.deepEqual(await sorted(`sortBy=${ENT}:employeeNumber&filter=${encodeURIComponent(`${ENT}:employeeNumber pr`)}`), ['alice', 'bob', 'heidi']);
  });

  test('sorting combines with paging: sortBy=userName&sortOrder=descending&startIndex=4&count=3', async () => {
    assert.deepEqual(await sorted('sortBy=userName&sortOrder=descending&startIndex=4&count=3'), ['eve', 'dave', 'carol']);
  });

  // Projection on lists (RFC 7644 §3.4.2.5)

  test('attributes=userName in a list returns userName, id and schemas only', async () => {
    const res = await fx.get('/Users?attributes=userName&count=200');
    assertStatus(res, 200);
    assert.equal(res.body.Resources.length, ORDER.length);
    for (const r of res.body.Resources) {
      assert.equal(typeof r.id, 'string');
      assert.ok(Array.isArray(r.schemas));
      assert.equal(typeof r.userName, 'string');
      for (const key of ['name', 'emails', 'displayName', 'title', 'active', ENT]) assert.ok(!(key in r), `${key} should be left out: ${JSON.stringify(r)}`);
    }
  });

  test('attributes=name.familyName,emails.value returns only those sub-attributes', async () => {
    const res = await fx.get(filterQuery('userName eq "alice.anders@example.com"', '&attributes=name.familyName,emails.value'));
    assertStatus(res, 200);
    const r = res.body.Resources[0];
    assert.deepEqual(r.name, { familyName: 'Price' });
    assert.deepEqual(r.emails, [{ value: 'alice.anders@example.com' }, { value: 'alice@home.test' }]);
    assert.ok(!('displayName' in r));
  });

  test('attributes naming an extension attribute by URN returns just that attribute', async () => {
    const res = await fx.get(filterQuery('userName eq "alice.anders@example.com"', `&attributes=${ENT}:department`));
    assertStatus(res, 200);
    const r = res.body.Resources[0];
    assert.deepEqual(r[ENT], { department: 'Engineering' });
    assert.ok(!('userName' in r));
  });

  test('excludedAttributes in a list leaves those out and keeps id and schemas', async () => {
    const res = await fx.get('/Users?excludedAttributes=emails,name,id,schemas&count=200');
    assertStatus(res, 200);
    for (const r of res.body.Resources) {
      assert.ok(!('emails' in r) && !('name' in r), JSON.stringify(r));
      assert.equal(typeof r.id, 'string', 'id is returned always');
      assert.ok(Array.isArray(r.schemas), 'schemas are returned always');
      assert.equal(typeof r.userName, 'string');
    }
  });
});

// ---------------------------------------------------------------------------
// Paging (RFC 7644 §3.4.2.4) over 250 users.

describe('paging (RFC 7644 §3.4.2.4)', () => {
  let pg: ScimClient;
  const ids = new Set<string>();
  const FAMILIES = ['Ng', 'Osei', 'Park', 'Quinn', 'Rossi'];

  before(async () => {
    pg = await newOrg({ name: 'paging' });
    for (let batch = 0; batch < 10; batch++) {
      const bodies = Array.from({ length: 25 }, (_, i) => {
        const n = batch * 25 + i;
        return userBody(`p${String(n).padStart(3, '0')}@paging.example.com`, { name: { givenName: `P${n}`, familyName: FAMILIES[n % 5] } });
      });
      for (const u of await Promise.all(bodies.map((b) => create(pg, b)))) ids.add(u.id);
    }
    assert.equal(ids.size, 250);
  });

  async function pageThrough(extra: string): Promise<string[]> {
    const seen: string[] = [];
    for (let start = 1; start <= 250; start += 50) {
      const res = await pg.get(`/Users?startIndex=${start}&count=50${extra}`);
      assertStatus(res, 200);
      assert.equal(res.body.totalResults, 250);
      assert.equal(res.body.startIndex, start);
      assert.equal(res.body.itemsPerPage, 50);
      assert.equal(res.body.Resources.length, 50);
      seen.push(...res.body.Resources.map((r: Body) => r.id));
    }
    return seen;
  }

  test('paging through 250 users with count 50 returns each user exactly once', async () => {
    const seen = await pageThrough('');
    assert.equal(new Set(seen).size, 250, 'pages overlap');
    assert.deepEqual(new Set(seen), ids, 'the union of the pages is every user');
  });

  test('paging with sortBy on an attribute with many ties still returns each user exactly once', async () => {
    const seen = await pageThrough('&sortBy=name.familyName');
    assert.equal(new Set(seen).size, 250, 'pages overlap');
    assert.deepEqual(new Set(seen), ids);
  });

  test('the last page holds the remainder', async () => {
    const res = await pg.get('/Users?startIndex=241&count=50');
    assertStatus(res, 200);
    assert.equal(res.body.Resources.length, 10);
    assert.equal(res.body.itemsPerPage, 10);
  });

  for (const start of ['0', '-5']) {
    test(`startIndex=${start} reads as 1`, async () => {
      const one = await pg.get('/Users?startIndex=1&count=5');
      const res = await pg.get(`/Users?startIndex=${start}&count=5`);
      assertStatus(res, 200);
      assert.equal(res.body.startIndex, 1);
      assert.deepEqual(res.body.Resources.map((r: Body) => r.id), one.body.Resources.map((r: Body) => r.id));
    });
  }

  for (const count of ['0', '-1']) {
    test(`count=${count} returns only totalResults`, async () => {
      const res = await pg.get(`/Users?count=${count}`);
      assertStatus(res, 200);
      assert.equal(res.body.totalResults, 250);
      assert.ok(res.body.Resources === undefined || res.body.Resources.length === 0, res.describe);
    });
  }

  test('count above ServiceProviderConfig filter.maxResults is capped at maxResults', async () => {
    const spc = await pg.get('/ServiceProviderConfig');
    const max = spc.body.filter.maxResults as number;
    const res = await pg.get('/Users?count=100000');
    assertStatus(res, 200);
    assert.equal(res.body.totalResults, 250);
    assert.ok(res.body.Resources.length <= max, `${res.body.Resources.length} > maxResults ${max}`);
    assert.equal(res.body.Resources.length, Math.min(max, 250));
    assert.equal(res.body.itemsPerPage, res.body.Resources.length);
  });

  test('a startIndex past the end returns no resources and the full totalResults', async () => {
    const res = await pg.get('/Users?startIndex=1000&count=10');
    assertStatus(res, 200);
    assert.equal(res.body.totalResults, 250);
    assert.ok(res.body.Resources === undefined || res.body.Resources.length === 0);
  });

  test('paging through a filtered list counts only the matches', async () => {
    const res = await pg.get(filterQuery('name.familyName eq "Ng"', '&startIndex=41&count=20'));
    assertStatus(res, 200);
    assert.equal(res.body.totalResults, 50);
    assert.equal(res.body.Resources.length, 10);
  });
});

// ---------------------------------------------------------------------------
// ETags (RFC 7644 §3.14)

describe('ETags (RFC 7644 §3.14)', () => {
  async function fresh(): Promise<{ u: Body; etag: string }> {
    const res = await scim.post('/Users', userBody(uniqueEmail('etag')));
    assertStatus(res, 201);
    return { u: res.body, etag: res.headers.get('etag') as string };
  }

  const STALE = 'W/"stale-version-0"';

  test('GET carries an ETag header equal to meta.version', async () => {
    const { u } = await fresh();
    const res = await scim.get(`/Users/${u.id}`);
    assertStatus(res, 200);
    assert.ok(res.headers.get('etag'), 'ETag missing');
    assert.equal(res.headers.get('etag'), res.body.meta.version);
  });

  test('PUT with a mismatched If-Match is refused with 412 and applies nothing', async () => {
    const { u } = await fresh();
    assertScimError(await scim.put(`/Users/${u.id}`, userBody(u.userName, { displayName: 'Nope' }), { headers: { 'if-match': STALE } }), 412);
    await assertUnchanged(scim, u);
  });

  test('PATCH with a mismatched If-Match is refused with 412 and applies nothing', async () => {
    const { u } = await fresh();
    assertScimError(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'displayName', value: 'Nope' }), { headers: { 'if-match': STALE } }), 412);
    await assertUnchanged(scim, u);
  });

  test('DELETE with a mismatched If-Match is refused with 412 and the user stays', async () => {
    const { u } = await fresh();
    assertScimError(await scim.delete(`/Users/${u.id}`, { headers: { 'if-match': STALE } }), 412);
    await assertUnchanged(scim, u);
  });

  test('PUT with the matching If-Match succeeds and the version changes', async () => {
    const { u, etag } = await fresh();
    const res = await scim.put(`/Users/${u.id}`, userBody(u.userName, { displayName: 'Put With ETag' }), { headers: { 'if-match': etag } });
    assertStatus(res, 200);
    assert.notEqual(res.body.meta.version, u.meta.version);
    assert.equal(res.headers.get('etag'), res.body.meta.version);
    // The old ETag no longer matches.
    assertScimError(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'x' }), { headers: { 'if-match': etag } }), 412);
  });

  test('PATCH with the matching If-Match succeeds and the version changes', async () => {
    const { u, etag } = await fresh();
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'displayName', value: 'Patched With ETag' }), { headers: { 'if-match': etag } });
    assertStatus(res, 200);
    assert.notEqual(res.body.meta.version, u.meta.version);
    assert.equal(res.headers.get('etag'), res.body.meta.version);
  });

  test('DELETE with the matching If-Match succeeds', async () => {
    const { u, etag } = await fresh();
    assertStatus(await scim.delete(`/Users/${u.id}`, { headers: { 'if-match': etag } }), 204);
    assertScimError(await scim.get(`/Users/${u.id}`), 404);
  });

  test('If-Match: * matches any current version (RFC 7232 §3.1)', async () => {
    const { u } = await fresh();
    assertStatus(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'Any' }), { headers: { 'if-match': '*' } }), 200);
  });

  test('GET with If-None-Match of the current version answers 304; after a change it answers 200', async () => {
    const { u, etag } = await fresh();
    const same = await scim.get(`/Users/${u.id}`, { headers: { 'if-none-match': etag } });
    assertStatus(same, 304);
    assertStatus(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', path: 'title', value: 'Changed' })), 200);
    const changed = await scim.get(`/Users/${u.id}`, { headers: { 'if-none-match': etag } });
    assertStatus(changed, 200);
    assert.equal(changed.body.title, 'Changed');
  });
});
