/**
 * Cross-organization sweep: with its own valid token, organization B tries
 * every SCIM route against organization A's user and group. B sees nothing of
 * A (404, empty lists, or 400 where it names A's user as a member of its own
 * group), and A's rows are byte-for-byte unchanged afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../support/server.js';
import {
  type ScimResponse,
  PATCH_SCHEMA,
  SEARCH_SCHEMA,
  ScimClient,
  assertScimError,
  assertScimJson,
  assertStatus,
  patchBody,
  uniqueEmail,
  userBody,
} from '../support/http.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('organization isolation', () => {
  let server: TestServer;
  let a: ScimClient;
  let b: ScimClient;
  let aUserId: string;
  let aUserName: string;
  let aGroupId: string;
  let aExternalId: string;
  let bGroupId: string;
  let snapshotBefore: unknown;

  /** Every row of A's, in every table that holds tenant data. */
  async function snapshotA(orgId: string) {
    const db = server.server.store.db;
    return {
      users: await db.selectFrom('users').selectAll().where('org_id', '=', orgId).orderBy('seq').execute(),
      groups: await db.selectFrom('groups').selectAll().where('org_id', '=', orgId).orderBy('seq').execute(),
      members: await db.selectFrom('group_members').selectAll().where('org_id', '=', orgId).orderBy('user_id').execute(),
    };
  }
  let aOrgId: string;

  before(async () => {
    server = await startTestServer({ SCIM_RATE_LIMIT_PER_MINUTE: '1000000' });
    const orgA = await server.createOrg({ name: 'Org A' });
    const orgB = await server.createOrg({ name: 'Org B' });
    aOrgId = orgA.orgId;
    a = new ScimClient(server.scimUrl, orgA.token);
    b = new ScimClient(server.scimUrl, orgB.token);

    aUserName = uniqueEmail('alice', 'a.example');
    aExternalId = `ext-${aUserName}`;
    const u = await a.post('/Users', userBody(aUserName, { externalId: aExternalId }));
    assertStatus(u, 201);
    aUserId = u.body.id;
    const g = await a.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'A Secret Group', externalId: 'a-group-ext', members: [{ value: aUserId }] });
    assertStatus(g, 201);
    aGroupId = g.body.id;

    const bg = await b.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'B Group' });
    assertStatus(bg, 201);
    bGroupId = bg.body.id;
    snapshotBefore = await snapshotA(aOrgId);
  });
  after(async () => server?.close());

  function assertNotFound(res: ScimResponse) {
    assertScimError(res, 404);
    assert.ok(!res.text.includes(aUserName), `a 404 must not echo A's data: ${res.describe}`);
    assert.ok(!res.text.includes('A Secret Group'), `a 404 must not echo A's data: ${res.describe}`);
  }

  function assertEmptyList(res: ScimResponse) {
    assertStatus(res, 200);
    assertScimJson(res);
    assert.equal(res.body.totalResults, 0, res.describe);
    assert.deepEqual(res.body.Resources ?? [], [], res.describe);
  }

  test('ids are unguessable UUID v4', () => {
    assert.match(aUserId, UUID_V4);
    assert.match(aGroupId, UUID_V4);
    assert.match(bGroupId, UUID_V4);
  });

  test("B cannot read, replace, patch or delete A's user", async () => {
    assertNotFound(await b.get(`/Users/${aUserId}`));
    assertNotFound(await b.get(`/Users/${aUserId}`, { headers: { 'if-none-match': 'W/"1"' } }));
    assertNotFound(await b.get(`/Users/${aUserId}?attributes=userName`));
    assertNotFound(await b.put(`/Users/${aUserId}`, userBody(aUserName, { displayName: 'Hijacked' })));
    assertNotFound(await b.put(`/Users/${aUserId}`, userBody(aUserName), { headers: { 'if-match': '*' } }));
    assertNotFound(await b.patch(`/Users/${aUserId}`, patchBody({ op: 'replace', path: 'active', value: false })));
    assertNotFound(await b.patch(`/Users/${aUserId}`, patchBody({ op: 'replace', value: { displayName: 'Hijacked' } })));
    assertNotFound(await b.patch(`/Users/${aUserId}`, patchBody({ op: 'replace', path: 'displayName', value: 'x' }), { headers: { 'if-match': 'W/"1"' } }));
    assertNotFound(await b.delete(`/Users/${aUserId}`));
    assertNotFound(await b.delete(`/Users/${aUserId}`, { headers: { 'if-match': 'W/"1"' } }));
  });

  test("B cannot read, replace, patch or delete A's group", async () => {
    assertNotFound(await b.get(`/Groups/${aGroupId}`));
    assertNotFound(await b.get(`/Groups/${aGroupId}?excludedAttributes=members`));
    assertNotFound(await b.put(`/Groups/${aGroupId}`, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Hijacked', members: [] }));
    assertNotFound(await b.patch(`/Groups/${aGroupId}`, patchBody({ op: 'replace', path: 'displayName', value: 'Hijacked' })));
    assertNotFound(await b.patch(`/Groups/${aGroupId}`, patchBody({ op: 'replace', path: 'members', value: [] })));
    assertNotFound(await b.patch(`/Groups/${aGroupId}`, patchBody({ op: 'remove', path: `members[value eq "${aUserId}"]` })));
    assertNotFound(await b.patch(`/Groups/${aGroupId}`, patchBody({ op: 'remove', path: 'members' })));
    assertNotFound(await b.patch(`/Groups/${aGroupId}`, patchBody({ op: 'add', path: 'members', value: [{ value: aUserId }] })));
    assertNotFound(await b.delete(`/Groups/${aGroupId}`));
  });

  test("B's filters and searches never match A's resources", async () => {
    const userFilters = [
      `id eq "${aUserId}"`,
      `userName eq "${aUserName}"`,
      `userName sw "alice"`,
      `externalId eq "${aExternalId}"`,
      `emails.value eq "${aUserName}"`,
      `emails[value eq "${aUserName}"]`,
      `groups.value eq "${aGroupId}"`,
      `id pr`,
      `userName pr or id eq "${aUserId}"`,
    ];
    for (const f of userFilters) {
      const res = await b.get(`/Users?filter=${encodeURIComponent(f)}`);
      if (res.status === 400) assertScimError(res, 400, 'invalidFilter'); // an unsupported attribute is fine, a leak is not
      else assertEmptyList(res);
      const search = await b.post('/Users/.search', { schemas: [SEARCH_SCHEMA], filter: f });
      if (search.status === 400) assertScimError(search, 400, 'invalidFilter');
      else assertEmptyList(search);
    }
    const groupFilters = [
      `id eq "${aGroupId}"`,
      `displayName eq "A Secret Group"`,
      `externalId eq "a-group-ext"`,
      `members.value eq "${aUserId}"`,
      `members[value eq "${aUserId}"]`,
    ];
    for (const f of groupFilters) {
      const res = await b.get(`/Groups?filter=${encodeURIComponent(f)}`);
      if (res.status === 400) assertScimError(res, 400, 'invalidFilter');
      else assertEmptyList(res);
      const search = await b.post('/Groups/.search', { schemas: [SEARCH_SCHEMA], filter: f });
      if (search.status === 400) assertScimError(search, 400, 'invalidFilter');
      else assertEmptyList(search);
    }
    // Unfiltered lists hold only B's own group and no user.
    assertEmptyList(await b.get('/Users'));
    assertEmptyList(await b.get('/Users?startIndex=1&count=200'));
    const groups = await b.get('/Groups');
    assertStatus(groups, 200);
    assert.deepEqual(groups.body.Resources.map((g: { id: string }) => g.id), [bGroupId]);
    assert.ok(!groups.text.includes(aUserId) && !groups.text.includes(aGroupId), groups.describe);
  });

  test("B cannot make A's user a member of B's group", async () => {
    const viaPatch = await b.patch(`/Groups/${bGroupId}`, patchBody({ op: 'add', path: 'members', value: [{ value: aUserId }] }));
    assertScimError(viaPatch, 400, 'invalidValue');
    const viaPathless = await b.patch(`/Groups/${bGroupId}`, patchBody({ op: 'add', value: { members: [{ value: aUserId }] } }));
    assertScimError(viaPathless, 400, 'invalidValue');
    const viaReplace = await b.patch(`/Groups/${bGroupId}`, patchBody({ op: 'replace', path: 'members', value: [{ value: aUserId }] }));
    assertScimError(viaReplace, 400, 'invalidValue');
    const viaPut = await b.put(`/Groups/${bGroupId}`, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'B Group', members: [{ value: aUserId }] });
    assertScimError(viaPut, 400, 'invalidValue');
    const viaCreate = await b.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'B Group 2', members: [{ value: aUserId }] });
    assertScimError(viaCreate, 400, 'invalidValue');
    // Removing A's user from B's group is a no-op, never a change to A.
    const remove = await b.patch(`/Groups/${bGroupId}`, {
      schemas: [PATCH_SCHEMA],
      Operations: [{ op: 'remove', path: `members[value eq "${aUserId}"]` }],
    });
    assert.ok(remove.status === 204 || remove.status === 200, remove.describe);
    const bg = await b.get(`/Groups/${bGroupId}`);
    assertStatus(bg, 200);
    assert.deepEqual(bg.body.members ?? [], [], bg.describe);
  });

  test("the answers for A's ids are the same as for ids that do not exist", async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    const forA = await b.get(`/Users/${aUserId}`);
    const forNothing = await b.get(`/Users/${unknown}`);
    assert.equal(forA.status, forNothing.status);
    assert.equal(forA.body.detail.replace(aUserId, 'ID'), forNothing.body.detail.replace(unknown, 'ID'));
  });

  test("B creating a user with A's userName gets its own, separate user", async () => {
    const res = await b.post('/Users', userBody(aUserName));
    assertStatus(res, 201);
    assert.notEqual(res.body.id, aUserId);
    assert.match(res.body.id, UUID_V4);
    // ...which is not visible to A either.
    const fromA = await a.get(`/Users/${res.body.id}`);
    assertScimError(fromA, 404);
    const list = await a.get(`/Users?filter=${encodeURIComponent(`userName eq "${aUserName}"`)}`);
    assert.equal(list.body.totalResults, 1, list.describe);
    assert.equal(list.body.Resources[0].id, aUserId);
  });

  test("A's data is unchanged after the sweep, and A still sees it all", async () => {
    assert.deepEqual(await snapshotA(aOrgId), snapshotBefore);
    const u = await a.get(`/Users/${aUserId}`);
    assertStatus(u, 200);
    assert.equal(u.body.userName, aUserName);
    assert.equal(u.body.active, true);
    const g = await a.get(`/Groups/${aGroupId}`);
    assertStatus(g, 200);
    assert.equal(g.body.displayName, 'A Secret Group');
    assert.deepEqual(g.body.members.map((m: { value: string }) => m.value), [aUserId]);
  });
});
