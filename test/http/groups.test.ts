// The /Groups resource over HTTP (RFC 7643 §4.2, RFC 7644) and how group
// membership shows on users, under Plumm's rules: members must be users of the
// same organization, every write is all or nothing, IdP retries are harmless,
// organizations never see each other's groups. Every expected value comes from
// the RFC section or the rule named in the test, not from the code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { type TestServer, startTestServer } from '../support/server.js';
import {
  type Body,
  LIST_SCHEMA,
  PATCH_SCHEMA,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SEARCH_SCHEMA,
  ScimClient,
  type ScimResponse,
  USER_SCHEMA,
  assertScimError,
  assertScimJson,
  assertStatus,
  patchBody,
  uniqueEmail,
  userBody,
} from '../support/http.js';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let server: TestServer;
let scim: ScimClient;

before(async () => {
  server = await startTestServer();
  const org = await server.createOrg({ name: 'groups' });
  scim = new ScimClient(server.scimUrl, org.token);
});

after(async () => {
  await server?.close();
});

// ---------------------------------------------------------------------------
// Helpers

async function newOrg(name?: string): Promise<ScimClient> {
  const org = await server.createOrg({ name });
  return new ScimClient(server.scimUrl, org.token);
}

function uniqueName(prefix = 'Group'): string {
  return `${prefix} ${randomBytes(4).toString('hex')}`;
}

async function newUser(client: ScimClient, extra: Record<string, unknown> = {}): Promise<Body> {
  const res = await client.post('/Users', userBody(uniqueEmail('member'), extra));
  assertStatus(res, 201);
  return res.body;
}

async function newUsers(client: ScimClient, n: number): Promise<Body[]> {
  return Promise.all(Array.from({ length: n }, () => newUser(client)));
}

function groupBody(displayName: string, memberIds: string[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { schemas: [GROUP_SCHEMA], displayName, members: memberIds.map((value) => ({ value })), ...extra };
}

async function newGroup(client: ScimClient, displayName = uniqueName(), memberIds: string[] = [], extra: Record<string, unknown> = {}): Promise<Body> {
  const res = await client.post('/Groups', groupBody(displayName, memberIds, extra));
  assertStatus(res, 201);
  return res.body;
}

async function readGroup(client: ScimClient, id: string, query = ''): Promise<Body> {
  const res = await client.get(`/Groups/${id}${query}`);
  assertStatus(res, 200);
  assertScimJson(res);
  return res.body;
}

/** Member ids of a rendered group, sorted; RFC 7643 §2.5: absent, null and [] all mean "no members". */
function idsOf(group: Body): string[] {
  const members = group.members ?? [];
  assert.ok(Array.isArray(members), `members must be a list: ${JSON.stringify(group.members)}`);
  return members.map((m: Body) => m.value).sort();
}

const sorted = (ids: string[]) => [...ids].sort();

async function assertMembers(client: ScimClient, groupId: string, expected: string[], why = ''): Promise<Body> {
  const g = await readGroup(client, groupId);
  assert.deepEqual(idsOf(g), sorted(expected), `members of ${groupId}${why ? ` (${why})` : ''}: each expected member exactly once, nothing else`);
  return g;
}

/** RFC 7644 §3.5.2: a successful PATCH answers 200 with the resource, or 204 without a body. */
function assertPatchOk(res: ScimResponse, groupId: string): void {
  assert.ok(res.status === 200 || res.status === 204, `PATCH should answer 200 or 204: ${res.describe}`);
  if (res.status === 200) {
    assertScimJson(res);
    assert.equal(res.body.id, groupId, res.describe);
  }
}

async function patchGroup(client: ScimClient, groupId: string, ...ops: { op: string; path?: string; value?: unknown }[]): Promise<ScimResponse> {
  const res = await client.patch(`/Groups/${groupId}`, patchBody(...ops));
  assertPatchOk(res, groupId);
  return res;
}

function groupFilter(filter: string, more = ''): string {
  return `/Groups?filter=${encodeURIComponent(filter)}${more}`;
}

function names(res: ScimResponse): string[] {
  return ((res.body?.Resources ?? []) as Body[]).map((r) => r.displayName);
}

function escapeRe(s: string): RegExp {
  return new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
}

/** Plumm rule (all or nothing): a refused request leaves the group exactly as it was, version included. */
async function assertGroupUnchanged(client: ScimClient, before: Body): Promise<void> {
  const now = await readGroup(client, before.id);
  assert.equal(now.displayName, before.displayName, 'displayName unchanged');
  assert.equal(now.externalId, before.externalId, 'externalId unchanged');
  assert.deepEqual(idsOf(now), idsOf(before), 'members unchanged');
  assert.equal(now.meta.version, before.meta.version, 'version unchanged: nothing was written');
}

/** The groups a user shows in its read-only `groups` attribute, as {value, display}, sorted by value. */
async function groupsOfUser(client: ScimClient, userId: string): Promise<{ value: string; display: string }[]> {
  const res = await client.get(`/Users/${userId}`);
  assertStatus(res, 200);
  const groups = res.body.groups ?? [];
  assert.ok(Array.isArray(groups), `groups must be a list: ${res.describe}`);
  return groups.map((g: Body) => ({ value: g.value, display: g.display })).sort((a: Body, b: Body) => (a.value < b.value ? -1 : 1));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over items with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

// ---------------------------------------------------------------------------

describe('discovery advertises Group (RFC 7644 §4, RFC 7643 §6–7)', () => {
  test('/ResourceTypes lists Group at endpoint /Groups with the core Group schema', async () => {
    const res = await scim.get('/ResourceTypes');
    assertStatus(res, 200);
    const group = (res.body.Resources as Body[]).find((r) => r.name === 'Group');
    assert.ok(group, `Group missing from /ResourceTypes: ${res.describe}`);
    assert.ok(group.schemas.includes(RESOURCE_TYPE_SCHEMA));
    assert.equal(group.endpoint, '/Groups');
    assert.equal(group.schema, GROUP_SCHEMA);
    const one = await scim.get('/ResourceTypes/Group');
    assertStatus(one, 200);
    assert.equal(one.body.schema, GROUP_SCHEMA);
  });

  test('/Schemas describes Group with displayName and members (value, $ref, display, type)', async () => {
    const res = await scim.get('/Schemas');
    assertStatus(res, 200);
    const schema = (res.body.Resources as Body[]).find((s) => s.id === GROUP_SCHEMA);
    assert.ok(schema, `Group schema missing from /Schemas: ${res.describe}`);
    assert.ok(schema.schemas.includes(SCHEMA_SCHEMA));
    const attrs = schema.attributes as Body[];
    const displayName = attrs.find((a) => a.name === 'displayName');
    assert.ok(displayName, 'displayName described');
    assert.equal(displayName.type, 'string');
    const members = attrs.find((a) => a.name === 'members');
    assert.ok(members, 'members described');
    assert.equal(members.multiValued, true);
    assert.equal(members.type, 'complex');
    const subs = (members.subAttributes as Body[]).map((s) => s.name);
    for (const name of ['value', '$ref', 'display', 'type']) assert.ok(subs.includes(name), `members.${name} described`);
    const direct = await scim.get(`/Schemas/${GROUP_SCHEMA}`);
    assertStatus(direct, 200);
    assert.equal(direct.body.id, GROUP_SCHEMA);
  });

  test('the User schema describes groups as read-only (RFC 7643 §4.1.2)', async () => {
    const res = await scim.get(`/Schemas/${USER_SCHEMA}`);
    assertStatus(res, 200);
    const groups = (res.body.attributes as Body[]).find((a) => a.name === 'groups');
    assert.ok(groups, 'User.groups described');
    assert.equal(groups.mutability, 'readOnly');
    assert.equal(groups.multiValued, true);
  });
});

describe('POST /Groups (RFC 7644 §3.3)', () => {
  test('creates a group: 201 with id, schemas, meta, Location and ETag; GET returns the same', async () => {
    const name = uniqueName('Create');
    const res = await scim.post('/Groups', groupBody(name, [], { externalId: 'okta-00g1' }));
    assertStatus(res, 201);
    assertScimJson(res);
    const g = res.body;
    assert.equal(typeof g.id, 'string');
    assert.ok(g.id.length > 0);
    assert.ok(g.schemas.includes(GROUP_SCHEMA), res.describe);
    assert.equal(g.displayName, name);
    assert.equal(g.externalId, 'okta-00g1');
    assert.deepEqual(idsOf(g), []);
    assert.equal(g.meta.resourceType, 'Group');
    assert.ok(!Number.isNaN(Date.parse(g.meta.created)), 'meta.created is a dateTime');
    assert.ok(!Number.isNaN(Date.parse(g.meta.lastModified)), 'meta.lastModified is a dateTime');
    assert.ok(String(g.meta.location).endsWith(`/Groups/${g.id}`), 'meta.location is the group URI');
    assert.equal(res.headers.get('location'), g.meta.location, 'Location header equals meta.location (RFC 7644 §3.3)');
    assert.equal(res.headers.get('etag'), g.meta.version, 'ETag header equals meta.version (RFC 7644 §3.14)');
    assert.deepEqual(await readGroup(scim, g.id), g, 'GET returns what POST returned');
  });

  test('creates a group with members: each listed once, value = user id, $ref to the user, type User', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const res = await scim.post('/Groups', groupBody(uniqueName('With members'), [u1.id, u2.id]));
    assertStatus(res, 201);
    assert.deepEqual(idsOf(res.body), sorted([u1.id, u2.id]), res.describe);
    for (const m of res.body.members as Body[]) {
      if (m.$ref !== undefined) assert.ok(String(m.$ref).endsWith(`/Users/${m.value}`), `members.$ref is the user's URI: ${JSON.stringify(m)}`);
      if (m.type !== undefined) assert.equal(m.type, 'User', 'members.type canonical value (RFC 7643 §4.2)');
      if (m.display !== undefined) assert.equal(typeof m.display, 'string');
    }
    await assertMembers(scim, res.body.id, [u1.id, u2.id]);
  });

  test('a member listed twice is stored once', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Dup'), [u.id, u.id]);
    assert.deepEqual(idsOf(g), [u.id]);
    await assertMembers(scim, g.id, [u.id]);
  });

  test('a client-supplied id and meta are ignored: the service issues the id (RFC 7643 §3.1)', async () => {
    const res = await scim.post('/Groups', groupBody(uniqueName('Id'), [], { id: 'client-chosen-id', meta: { created: '2001-01-01T00:00:00Z' } }));
    assertStatus(res, 201);
    assert.notEqual(res.body.id, 'client-chosen-id');
    assert.notEqual(res.body.meta.created, '2001-01-01T00:00:00Z');
  });

  test('a missing displayName is refused with 400 invalidValue (RFC 7643 §4.2 REQUIRED; RFC 7644 §3.12) and creates nothing', async () => {
    const org = await newOrg('groups-no-name');
    assertScimError(await org.post('/Groups', { schemas: [GROUP_SCHEMA], members: [] }), 400, 'invalidValue');
    const list = await org.get('/Groups');
    assertStatus(list, 200);
    assert.equal(list.body.totalResults, 0, list.describe);
  });

  for (const [label, makeId] of [
    ['a random id', async () => randomUUID()],
    ['a user of another organization', async () => (await newUser(await newOrg('groups-other-org'))).id],
    [
      'a deleted user',
      async () => {
        const u = await newUser(scim);
        assertStatus(await scim.delete(`/Users/${u.id}`), 204);
        return u.id;
      },
    ],
  ] as const) {
    test(`a member that is ${label} is refused with 400 invalidValue naming the id; no group is created`, async () => {
      const good = await newUser(scim);
      const bad = await makeId();
      const name = uniqueName('Refused');
      const res = await scim.post('/Groups', groupBody(name, [good.id, bad]));
      assertScimError(res, 400, 'invalidValue', escapeRe(bad));
      const found = await scim.get(groupFilter(`displayName eq "${name}"`));
      assertStatus(found, 200);
      assert.equal(found.body.totalResults, 0, `no group may be created: ${found.describe}`);
      assert.deepEqual(await groupsOfUser(scim, good.id), [], 'the valid member was not put in any group');
    });
  }
});

describe('GET /Groups/:id', () => {
  test('an unknown id answers 404 SCIM JSON', async () => {
    assertScimError(await scim.get(`/Groups/${randomUUID()}`), 404);
  });

  test('excludedAttributes=members returns the group with no members key (RFC 7644 §3.4.2.5)', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Excl'), [u.id]);
    const res = await scim.get(`/Groups/${g.id}?excludedAttributes=members`);
    assertStatus(res, 200);
    assert.ok(!('members' in res.body), `members must be left out: ${res.describe}`);
    assert.equal(res.body.displayName, g.displayName);
    assert.equal(res.body.id, g.id);
  });

  test('attributes=displayName returns displayName, id and schemas, and no members (RFC 7644 §3.4.2.5)', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Attr'), [u.id], { externalId: 'x-attr' });
    const res = await scim.get(`/Groups/${g.id}?attributes=displayName`);
    assertStatus(res, 200);
    assert.equal(res.body.displayName, g.displayName);
    assert.equal(res.body.id, g.id, 'id is returned always (RFC 7643 §3.1)');
    assert.ok(!('members' in res.body), res.describe);
    assert.ok(!('externalId' in res.body), res.describe);
  });

  test('attributes=members returns the members (and id) only', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Attr members'), [u.id]);
    const res = await scim.get(`/Groups/${g.id}?attributes=members`);
    assertStatus(res, 200);
    assert.deepEqual(idsOf(res.body), [u.id]);
    assert.ok(!('displayName' in res.body), res.describe);
  });
});

describe('attribute names qualified by the schema URN (RFC 7644 §3.10)', () => {
  test(`attributes=${GROUP_SCHEMA}:members returns the members`, async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Urn attrs'), [u.id]);
    const res = await scim.get(`/Groups/${g.id}?attributes=${encodeURIComponent(`${GROUP_SCHEMA}:members`)}`);
    assertStatus(res, 200);
    assert.deepEqual(idsOf(res.body), [u.id], `members asked for by full name must be returned: ${res.describe}`);
  });

  test(`excludedAttributes=${GROUP_SCHEMA}:members leaves the members out`, async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Urn excl'), [u.id]);
    const res = await scim.get(`/Groups/${g.id}?excludedAttributes=${encodeURIComponent(`${GROUP_SCHEMA}:members`)}`);
    assertStatus(res, 200);
    assert.ok(!('members' in res.body), res.describe);
    assert.equal(res.body.displayName, g.displayName);
  });

  test(`attributes=members.value returns members with their value`, async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Sub attrs'), [u.id]);
    const res = await scim.get(`/Groups/${g.id}?attributes=members.value`);
    assertStatus(res, 200);
    assert.deepEqual(res.body.members, [{ value: u.id }], res.describe);
  });

  test(`attributes=${USER_SCHEMA}:groups on a user returns its groups`, async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Urn user groups'), [u.id]);
    const res = await scim.get(`/Users/${u.id}?attributes=${encodeURIComponent(`${USER_SCHEMA}:groups`)}`);
    assertStatus(res, 200);
    assert.deepEqual(((res.body.groups ?? []) as Body[]).map((x) => x.value), [g.id], `groups asked for by full name must be returned: ${res.describe}`);
  });

  test(`PATCH add with path ${GROUP_SCHEMA}:members adds members`, async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Urn patch'), [u1.id]);
    await patchGroup(scim, g.id, { op: 'add', path: `${GROUP_SCHEMA}:members`, value: [{ value: u2.id }] });
    await assertMembers(scim, g.id, [u1.id, u2.id]);
  });
});

describe('listing and filtering /Groups (RFC 7644 §3.4.2)', () => {
  let fx: ScimClient;
  let u1: Body;
  let u2: Body;
  const g: Record<string, Body> = {};
  let beforeAll: string;

  before(async () => {
    fx = await newOrg('groups-filters');
    [u1, u2] = await newUsers(fx, 2);
    beforeAll = new Date(Date.now() - 1000).toISOString();
    g.alphaTeam = await newGroup(fx, 'Alpha Team', [u1.id], { externalId: 'ext-alpha' });
    await sleep(5);
    g.alphaSquad = await newGroup(fx, 'alpha squad', [], { externalId: 'ext-squad' });
    await sleep(5);
    g.betaTeam = await newGroup(fx, 'Beta Team', [u2.id]);
    await sleep(5);
    g.gamma = await newGroup(fx, 'Gamma');
  });

  test('GET /Groups is a ListResponse with every group of the organization', async () => {
    const res = await fx.get('/Groups');
    assertStatus(res, 200);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_SCHEMA]);
    assert.equal(res.body.totalResults, 4);
    assert.equal(res.body.startIndex, 1);
    assert.equal(res.body.itemsPerPage, 4);
    assert.deepEqual(names(res).sort(), ['Alpha Team', 'Beta Team', 'Gamma', 'alpha squad'].sort());
    const alpha = (res.body.Resources as Body[]).find((r) => r.id === g.alphaTeam.id);
    assert.deepEqual(idsOf(alpha), [u1.id], 'members are listed by default');
  });

  const cases: [string, () => string[]][] = [
    ['displayName eq "ALPHA TEAM"', () => ['Alpha Team']],
    ['displayName eq "alpha team"', () => ['Alpha Team']],
    ['displayName co "TEAM"', () => ['Alpha Team', 'Beta Team']],
    ['displayName sw "alpha"', () => ['Alpha Team', 'alpha squad']],
    ['displayName sw "ALPHA S"', () => ['alpha squad']],
    ['displayName eq "Alpha"', () => []],
    ['externalId eq "ext-alpha"', () => ['Alpha Team']],
    // RFC 7643 §3.1: externalId is caseExact.
    ['externalId eq "EXT-ALPHA"', () => []],
    ['displayName sw "alpha" and externalId eq "ext-squad"', () => ['alpha squad']],
  ];
  for (const [filter, expected] of cases) {
    test(`filter ${filter}`, async () => {
      const res = await fx.get(groupFilter(filter));
      assertStatus(res, 200);
      assert.deepEqual(names(res).sort(), expected().sort(), res.describe);
      assert.equal(res.body.totalResults, expected().length);
    });
  }

  test('filter id eq "<id>" finds that group only', async () => {
    const res = await fx.get(groupFilter(`id eq "${g.betaTeam.id}"`));
    assertStatus(res, 200);
    assert.deepEqual(names(res), ['Beta Team']);
  });

  test('filter members.value eq "<user id>" finds the groups the user is in', async () => {
    const a = await fx.get(groupFilter(`members.value eq "${u1.id}"`));
    assertStatus(a, 200);
    assert.deepEqual(names(a), ['Alpha Team'], a.describe);
    const b = await fx.get(groupFilter(`members.value eq "${u2.id}"`));
    assert.deepEqual(names(b), ['Beta Team'], b.describe);
    const none = await fx.get(groupFilter(`members.value eq "${randomUUID()}"`));
    assertStatus(none, 200);
    assert.equal(none.body.totalResults, 0, none.describe);
  });

  test('filter members[value eq "<user id>"] (value path, RFC 7644 §3.4.2.2) finds the same', async () => {
    const res = await fx.get(groupFilter(`members[value eq "${u1.id}"]`));
    assertStatus(res, 200);
    assert.deepEqual(names(res), ['Alpha Team'], res.describe);
  });

  test('filter displayName and members.value combined', async () => {
    const res = await fx.get(groupFilter(`displayName co "team" and members.value eq "${u2.id}"`));
    assertStatus(res, 200);
    assert.deepEqual(names(res), ['Beta Team'], res.describe);
  });

  test('filter on meta.created compares instants', async () => {
    const after = await fx.get(groupFilter(`meta.created gt "${beforeAll}"`));
    assertStatus(after, 200);
    assert.equal(after.body.totalResults, 4, after.describe);
    const before = await fx.get(groupFilter(`meta.created lt "${beforeAll}"`));
    assertStatus(before, 200);
    assert.equal(before.body.totalResults, 0, before.describe);
    const fromGamma = await fx.get(groupFilter(`meta.created ge "${g.gamma.meta.created}"`));
    assert.deepEqual(names(fromGamma), ['Gamma'], fromGamma.describe);
  });

  test('filter on meta.lastModified finds a group changed after a moment', async () => {
    const moment = new Date().toISOString();
    await sleep(15);
    await patchGroup(fx, g.gamma.id, { op: 'replace', path: 'externalId', value: 'ext-gamma' });
    const res = await fx.get(groupFilter(`meta.lastModified gt "${moment}"`));
    assertStatus(res, 200);
    assert.deepEqual(names(res), ['Gamma'], res.describe);
  });

  test('excludedAttributes=members in a list: no resource has a members key', async () => {
    const res = await fx.get('/Groups?excludedAttributes=members');
    assertStatus(res, 200);
    assert.equal(res.body.totalResults, 4);
    for (const r of res.body.Resources as Body[]) {
      assert.ok(!('members' in r), `members must be left out: ${JSON.stringify(r)}`);
      assert.equal(typeof r.displayName, 'string');
    }
  });

  test('attributes=displayName in a list returns displayName and id, no members', async () => {
    const res = await fx.get('/Groups?attributes=displayName');
    assertStatus(res, 200);
    for (const r of res.body.Resources as Body[]) {
      assert.equal(typeof r.id, 'string');
      assert.equal(typeof r.displayName, 'string');
      assert.ok(!('members' in r), JSON.stringify(r));
      assert.ok(!('externalId' in r), JSON.stringify(r));
    }
  });

  test('sortBy=displayName sorts ascending without regard to case (displayName is not caseExact)', async () => {
    const res = await fx.get('/Groups?sortBy=displayName');
    assertStatus(res, 200);
    assert.deepEqual(names(res), ['alpha squad', 'Alpha Team', 'Beta Team', 'Gamma'], res.describe);
  });

  test('sortBy=displayName&sortOrder=descending sorts descending', async () => {
    const res = await fx.get('/Groups?sortBy=displayName&sortOrder=descending');
    assertStatus(res, 200);
    assert.deepEqual(names(res), ['Gamma', 'Beta Team', 'Alpha Team', 'alpha squad'], res.describe);
  });

  test('paging with startIndex and count returns each group exactly once (RFC 7644 §3.4.2.4)', async () => {
    const seen: string[] = [];
    for (const start of [1, 3]) {
      const res = await fx.get(`/Groups?sortBy=displayName&startIndex=${start}&count=2`);
      assertStatus(res, 200);
      assert.equal(res.body.totalResults, 4);
      assert.equal(res.body.startIndex, start);
      assert.equal(res.body.itemsPerPage, 2);
      assert.equal(res.body.Resources.length, 2);
      seen.push(...names(res));
    }
    assert.deepEqual(seen, ['alpha squad', 'Alpha Team', 'Beta Team', 'Gamma']);
    const last = await fx.get('/Groups?sortBy=displayName&startIndex=4&count=2');
    assert.deepEqual(names(last), ['Gamma'], 'the last page holds the remainder');
    assert.equal(last.body.itemsPerPage, 1);
    const past = await fx.get('/Groups?startIndex=10&count=2');
    assertStatus(past, 200);
    assert.equal(past.body.totalResults, 4);
    assert.equal((past.body.Resources ?? []).length, 0);
    const zero = await fx.get('/Groups?count=0');
    assertStatus(zero, 200);
    assert.equal(zero.body.totalResults, 4);
    assert.equal((zero.body.Resources ?? []).length, 0);
  });

  test('paging a filtered list counts only the matches', async () => {
    const res = await fx.get(groupFilter('displayName co "a"', '&sortBy=displayName&startIndex=2&count=1'));
    assertStatus(res, 200);
    assert.equal(res.body.totalResults, 4);
    assert.deepEqual(names(res), ['Alpha Team']);
  });

  test('POST /Groups/.search with filter, sortBy, paging and excludedAttributes answers like the GET (RFC 7644 §3.4.3)', async () => {
    const res = await fx.post('/Groups/.search', {
      schemas: [SEARCH_SCHEMA],
      filter: 'displayName sw "alpha"',
      sortBy: 'displayName',
      sortOrder: 'descending',
      startIndex: 1,
      count: 1,
      excludedAttributes: ['members'],
    });
    assertStatus(res, 200);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_SCHEMA]);
    assert.equal(res.body.totalResults, 2);
    assert.deepEqual(names(res), ['Alpha Team']);
    assert.ok(!('members' in res.body.Resources[0]), res.describe);
    const byMember = await fx.post('/Groups/.search', { schemas: [SEARCH_SCHEMA], filter: `members.value eq "${u1.id}"` });
    assertStatus(byMember, 200);
    assert.deepEqual(names(byMember), ['Alpha Team']);
  });

  test('attribute names are case-insensitive in filter, sortBy and excludedAttributes (RFC 7643 §2.1); a URN-qualified name works too', async () => {
    const f = await fx.get(groupFilter('DISPLAYNAME eq "gamma"'));
    assertStatus(f, 200);
    assert.deepEqual(names(f), ['Gamma'], f.describe);
    const urn = await fx.get(groupFilter(`${GROUP_SCHEMA}:displayName eq "Gamma"`));
    assertStatus(urn, 200);
    assert.deepEqual(names(urn), ['Gamma'], urn.describe);
    const s = await fx.get('/Groups?sortBy=DisplayName');
    assertStatus(s, 200);
    assert.deepEqual(names(s), ['alpha squad', 'Alpha Team', 'Beta Team', 'Gamma'], s.describe);
    const e = await fx.get(`/Groups/${g.alphaTeam.id}?excludedAttributes=MEMBERS`);
    assertStatus(e, 200);
    assert.ok(!('members' in e.body), e.describe);
  });

  for (const filter of ['displayName eq', 'displayName eq "x" and', 'displayName xx "x"', 'nosuchattr eq "x"']) {
    test(`filter ${filter} is refused with 400 invalidFilter`, async () => {
      assertScimError(await fx.get(groupFilter(filter)), 400, 'invalidFilter');
    });
  }
});

describe('PUT /Groups/:id (RFC 7644 §3.5.1)', () => {
  test('replaces displayName, externalId and members; id and meta.created stay, the version changes', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Put'), [u1.id, u2.id], { externalId: 'before' });
    await sleep(5);
    const name = uniqueName('Put renamed');
    const res = await scim.put(`/Groups/${g.id}`, groupBody(name, [u2.id, u3.id], { externalId: 'after' }));
    assertStatus(res, 200);
    assertScimJson(res);
    assert.equal(res.body.id, g.id);
    assert.equal(res.body.displayName, name);
    assert.equal(res.body.externalId, 'after');
    assert.deepEqual(idsOf(res.body), sorted([u2.id, u3.id]));
    assert.equal(res.body.meta.created, g.meta.created);
    assert.notEqual(res.body.meta.version, g.meta.version);
    const got = await assertMembers(scim, g.id, [u2.id, u3.id]);
    assert.equal(got.displayName, name);
  });

  test('PUT with members [] empties the group', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Put empty'), [u.id]);
    assertStatus(await scim.put(`/Groups/${g.id}`, groupBody(g.displayName, [])), 200);
    await assertMembers(scim, g.id, []);
    assert.deepEqual(await groupsOfUser(scim, u.id), []);
  });

  test('PUT naming a member that is not a user of this organization is refused with 400 invalidValue and applies nothing', async () => {
    const u = await newUser(scim);
    const foreign = await newUser(await newOrg('groups-put-foreign'));
    const g = await newGroup(scim, uniqueName('Put refused'), [u.id]);
    const res = await scim.put(`/Groups/${g.id}`, groupBody(uniqueName('Put refused new'), [foreign.id]));
    assertScimError(res, 400, 'invalidValue', escapeRe(foreign.id));
    await assertGroupUnchanged(scim, g);
  });

  test('PUT without displayName is refused with 400 invalidValue (required) and applies nothing', async () => {
    const g = await newGroup(scim, uniqueName('Put noname'));
    assertScimError(await scim.put(`/Groups/${g.id}`, { schemas: [GROUP_SCHEMA], members: [] }), 400, 'invalidValue');
    await assertGroupUnchanged(scim, g);
  });

  test('PUT to an unknown id answers 404', async () => {
    assertScimError(await scim.put(`/Groups/${randomUUID()}`, groupBody('Nobody')), 404);
  });
});

describe('PATCH /Groups/:id (RFC 7644 §3.5.2, Okta and Entra shapes)', () => {
  test('add members with a value list (Okta) adds them', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Add'), [u1.id]);
    const res = await patchGroup(scim, g.id, { op: 'add', path: 'members', value: [{ value: u2.id, display: 'ignored' }, { value: u3.id }] });
    if (res.status === 200) assert.deepEqual(idsOf(res.body), sorted([u1.id, u2.id, u3.id]), 'the 200 body is the group after the change');
    await assertMembers(scim, g.id, [u1.id, u2.id, u3.id]);
  });

  test('adding an existing member is a no-op: no duplicate (RFC 7644 §3.5.2.1)', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Add again'), [u1.id]);
    await patchGroup(scim, g.id, { op: 'add', path: 'members', value: [{ value: u1.id }, { value: u2.id }, { value: u2.id }] });
    await assertMembers(scim, g.id, [u1.id, u2.id]);
  });

  test('remove by members[value eq "ID"] (Okta) removes that member only', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Remove filter'), [u1.id, u2.id, u3.id]);
    await patchGroup(scim, g.id, { op: 'remove', path: `members[value eq "${u2.id}"]` });
    await assertMembers(scim, g.id, [u1.id, u3.id]);
  });

  test('remove by members[value eq "A" or value eq "B"] removes both', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Remove or'), [u1.id, u2.id, u3.id]);
    await patchGroup(scim, g.id, { op: 'remove', path: `members[value eq "${u1.id}" or value eq "${u3.id}"]` });
    await assertMembers(scim, g.id, [u2.id]);
  });

  test('Entra "Remove" with path members and a value list removes only the listed members ($ref null and display ignored)', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Entra remove'), [u1.id, u2.id, u3.id]);
    await patchGroup(scim, g.id, { op: 'Remove', path: 'members', value: [{ $ref: null, value: u1.id, display: 'Someone Else' }, { value: u3.id }] });
    await assertMembers(scim, g.id, [u2.id]);
  });

  test('remove with path members and no value removes all members (RFC 7644 §3.5.2.2)', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Remove all'), [u1.id, u2.id]);
    await patchGroup(scim, g.id, { op: 'remove', path: 'members' });
    await assertMembers(scim, g.id, []);
  });

  test('replace members with a list sets exactly that list (RFC 7644 §3.5.2.3)', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Replace list'), [u1.id, u2.id]);
    await patchGroup(scim, g.id, { op: 'replace', path: 'members', value: [{ value: u2.id }, { value: u3.id }] });
    await assertMembers(scim, g.id, [u2.id, u3.id]);
  });

  test('replace members with [] empties the group (Okta "empty group pushed")', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Replace empty'), [u1.id, u2.id]);
    await patchGroup(scim, g.id, { op: 'replace', path: 'members', value: [] });
    await assertMembers(scim, g.id, []);
    assert.deepEqual(await groupsOfUser(scim, u1.id), []);
  });

  test('path-less add {members} adds, path-less replace {members} replaces (RFC 7644 §3.5.2.1, §3.5.2.3)', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Pathless members'), [u1.id]);
    await patchGroup(scim, g.id, { op: 'add', value: { members: [{ value: u2.id }] } });
    await assertMembers(scim, g.id, [u1.id, u2.id], 'after path-less add');
    await patchGroup(scim, g.id, { op: 'replace', value: { members: [{ value: u3.id }] } });
    await assertMembers(scim, g.id, [u3.id], 'after path-less replace');
  });

  test('path-less replace {id: own id, displayName} renames (Okta) and keeps the members', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Rename'), [u.id]);
    const name = uniqueName('Renamed');
    const res = await patchGroup(scim, g.id, { op: 'replace', value: { id: g.id, displayName: name } });
    if (res.status === 200) assert.equal(res.body.displayName, name);
    const got = await assertMembers(scim, g.id, [u.id]);
    assert.equal(got.displayName, name);
    assert.equal(got.id, g.id);
  });

  test('path-less replace with a different id is refused with 400 mutability and applies nothing (RFC 7643 §3.1 id readOnly)', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Other id'), [u.id]);
    const res = await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', value: { id: randomUUID(), displayName: uniqueName('Hijack') } }));
    assertScimError(res, 400, 'mutability');
    await assertGroupUnchanged(scim, g);
  });

  test('replace path displayName renames', async () => {
    const g = await newGroup(scim, uniqueName('Rename path'));
    const name = uniqueName('Renamed path');
    await patchGroup(scim, g.id, { op: 'replace', path: 'displayName', value: name });
    assert.equal((await readGroup(scim, g.id)).displayName, name);
  });

  test('capitalised op names "Add", "Remove", "Replace" (Entra) are accepted', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Caps'), [u1.id]);
    const name = uniqueName('Caps renamed');
    await patchGroup(
      scim,
      g.id,
      { op: 'Add', path: 'members', value: [{ value: u2.id }, { value: u3.id }] },
      { op: 'Remove', path: 'members', value: [{ value: u1.id }] },
      { op: 'Replace', path: 'displayName', value: name },
    );
    const got = await assertMembers(scim, g.id, [u2.id, u3.id]);
    assert.equal(got.displayName, name);
  });

  test('operations apply in order: add then remove of one member in one request leaves it out (Entra capture)', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Order'), [u1.id]);
    await patchGroup(scim, g.id, { op: 'Add', path: 'members', value: [{ $ref: null, value: u2.id }] }, { op: 'Remove', path: 'members', value: [{ $ref: null, value: u2.id }] });
    await assertMembers(scim, g.id, [u1.id]);
  });

  test('all or nothing: a PATCH that renames AND adds a non-existent member changes nothing (400 invalidValue naming the id)', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Atomic'), [u.id]);
    const ghost = randomUUID();
    const res = await scim.patch(
      `/Groups/${g.id}`,
      patchBody({ op: 'replace', path: 'displayName', value: uniqueName('Must not apply') }, { op: 'add', path: 'members', value: [{ value: ghost }] }),
    );
    assertScimError(res, 400, 'invalidValue', escapeRe(ghost));
    await assertGroupUnchanged(scim, g);
  });

  test('all or nothing: path-less rename with an invalid member in the same value changes nothing', async () => {
    const g = await newGroup(scim, uniqueName('Atomic pathless'));
    const ghost = randomUUID();
    const res = await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', value: { id: g.id, displayName: uniqueName('Nope'), members: [{ value: ghost }] } }));
    assertScimError(res, 400, 'invalidValue', escapeRe(ghost));
    await assertGroupUnchanged(scim, g);
  });

  test('all or nothing: removing a member and adding an invalid one in one request removes nobody', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Atomic remove'), [u1.id, u2.id]);
    const ghost = randomUUID();
    const res = await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'remove', path: `members[value eq "${u1.id}"]` }, { op: 'add', path: 'members', value: [{ value: ghost }] }));
    assertScimError(res, 400, 'invalidValue', escapeRe(ghost));
    await assertGroupUnchanged(scim, g);
  });

  for (const [label, makeId] of [
    ['a random id', async () => randomUUID()],
    ['a user of another organization', async () => (await newUser(await newOrg('groups-patch-foreign'))).id],
    [
      'a deleted user',
      async () => {
        const u = await newUser(scim);
        assertStatus(await scim.delete(`/Users/${u.id}`), 204);
        return u.id;
      },
    ],
  ] as const) {
    test(`adding a member that is ${label} is refused with 400 invalidValue naming the id; valid members in the same list are not added`, async () => {
      const [u1, u2] = await newUsers(scim, 2);
      const g = await newGroup(scim, uniqueName('Bad member'), [u1.id]);
      const bad = await makeId();
      const res = await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'add', path: 'members', value: [{ value: u2.id }, { value: bad }] }));
      assertScimError(res, 400, 'invalidValue', escapeRe(bad));
      await assertGroupUnchanged(scim, g);
    });

    test(`replacing members with a list holding ${label} is refused with 400 invalidValue; members unchanged`, async () => {
      const [u1, u2] = await newUsers(scim, 2);
      const g = await newGroup(scim, uniqueName('Bad replace'), [u1.id]);
      const bad = await makeId();
      const res = await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', path: 'members', value: [{ value: u2.id }, { value: bad }] }));
      assertScimError(res, 400, 'invalidValue', escapeRe(bad));
      await assertGroupUnchanged(scim, g);
    });
  }

  test('idempotent: the same add PATCH twice gives the same state', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Retry add'), [u1.id]);
    const body = patchBody({ op: 'add', path: 'members', value: [{ value: u2.id }] });
    assertPatchOk(await scim.patch(`/Groups/${g.id}`, body), g.id);
    const first = await readGroup(scim, g.id);
    assertPatchOk(await scim.patch(`/Groups/${g.id}`, body), g.id);
    const second = await readGroup(scim, g.id);
    assert.deepEqual(idsOf(second), idsOf(first));
    assert.deepEqual(idsOf(second), sorted([u1.id, u2.id]));
    assert.equal(second.displayName, first.displayName);
  });

  test('idempotent: the same remove PATCH twice (Okta filter and Entra list) gives the same state, the retry answers success', async () => {
    const [u1, u2, u3] = await newUsers(scim, 3);
    const g = await newGroup(scim, uniqueName('Retry remove'), [u1.id, u2.id, u3.id]);
    const okta = patchBody({ op: 'remove', path: `members[value eq "${u1.id}"]` });
    const entra = patchBody({ op: 'Remove', path: 'members', value: [{ value: u2.id }] });
    for (const body of [okta, okta, entra, entra]) assertPatchOk(await scim.patch(`/Groups/${g.id}`, body), g.id);
    await assertMembers(scim, g.id, [u3.id]);
  });

  test('idempotent: the same rename-and-replace-members PATCH twice gives the same state', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Retry replace'), [u1.id]);
    const name = uniqueName('Retry replaced');
    const body = patchBody({ op: 'replace', value: { id: g.id, displayName: name } }, { op: 'replace', path: 'members', value: [{ value: u2.id }] });
    assertPatchOk(await scim.patch(`/Groups/${g.id}`, body), g.id);
    assertPatchOk(await scim.patch(`/Groups/${g.id}`, body), g.id);
    const got = await assertMembers(scim, g.id, [u2.id]);
    assert.equal(got.displayName, name);
  });

  test('20 concurrent PATCHes each adding one member all take effect', async () => {
    const users = await newUsers(scim, 20);
    const g = await newGroup(scim, uniqueName('Concurrent'));
    const results = await Promise.all(users.map((u) => scim.patch(`/Groups/${g.id}`, patchBody({ op: 'add', path: 'members', value: [{ value: u.id }] }))));
    for (const r of results) assertPatchOk(r, g.id);
    await assertMembers(scim, g.id, users.map((u) => u.id));
  });

  test('remove path displayName is refused with 400 mutability (RFC 7644 §3.5.2.2: displayName is required) and applies nothing', async () => {
    const g = await newGroup(scim, uniqueName('Remove name'));
    assertScimError(await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'remove', path: 'displayName' })), 400, 'mutability');
    await assertGroupUnchanged(scim, g);
  });

  test('a PATCH to an unknown id answers 404', async () => {
    assertScimError(await scim.patch(`/Groups/${randomUUID()}`, patchBody({ op: 'replace', path: 'displayName', value: 'x' })), 404);
  });

  test('a PatchOp without Operations is refused with 400 invalidSyntax', async () => {
    const g = await newGroup(scim);
    assertScimError(await scim.patch(`/Groups/${g.id}`, { schemas: [PATCH_SCHEMA] }), 400, 'invalidSyntax');
    await assertGroupUnchanged(scim, g);
  });
});

describe('DELETE /Groups/:id (RFC 7644 §3.6)', () => {
  test('answers 204; afterwards GET, PUT, PATCH and DELETE answer 404, lists and member filters leave it out, users no longer show it', async () => {
    const u = await newUser(scim);
    const name = uniqueName('Doomed');
    const g = await newGroup(scim, name, [u.id]);
    const res = await scim.delete(`/Groups/${g.id}`);
    assertStatus(res, 204);
    assert.equal(res.text, '', 'a 204 has no body');
    assertScimError(await scim.get(`/Groups/${g.id}`), 404);
    assertScimError(await scim.put(`/Groups/${g.id}`, groupBody(name)), 404);
    assertScimError(await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', path: 'displayName', value: 'x' })), 404);
    assertScimError(await scim.delete(`/Groups/${g.id}`), 404);
    assert.equal((await scim.get(groupFilter(`displayName eq "${name}"`))).body.totalResults, 0);
    assert.equal((await scim.get(groupFilter(`members.value eq "${u.id}"`))).body.totalResults, 0);
    assert.deepEqual(await groupsOfUser(scim, u.id), []);
    // The user itself stays.
    assertStatus(await scim.get(`/Users/${u.id}`), 200);
  });

  test('DELETE of an unknown id answers 404', async () => {
    assertScimError(await scim.delete(`/Groups/${randomUUID()}`), 404);
  });
});

describe("users show their groups in read-only 'groups' (RFC 7643 §4.1.2)", () => {
  test('a member user lists each of its groups once, value = group id, display = group displayName', async () => {
    const u = await newUser(scim);
    const g1 = await newGroup(scim, uniqueName('UG one'), [u.id]);
    const g2 = await newGroup(scim);
    await patchGroup(scim, g2.id, { op: 'add', path: 'members', value: [{ value: u.id }] });
    const expected = [
      { value: g1.id, display: g1.displayName },
      { value: g2.id, display: g2.displayName },
    ].sort((a, b) => (a.value < b.value ? -1 : 1));
    assert.deepEqual(await groupsOfUser(scim, u.id), expected);
    const res = await scim.get(`/Users/${u.id}`);
    for (const gr of res.body.groups as Body[]) {
      if (gr.$ref !== undefined) assert.ok(String(gr.$ref).endsWith(`/Groups/${gr.value}`), `groups.$ref is the group URI: ${JSON.stringify(gr)}`);
      if (gr.type !== undefined) assert.ok(['direct', 'indirect'].includes(gr.type), 'groups.type canonical values (RFC 7643 §4.1.2)');
    }
  });

  test("a user in no group has no groups (absent or empty)", async () => {
    const u = await newUser(scim);
    assert.deepEqual(await groupsOfUser(scim, u.id), []);
  });

  test("renaming a group changes the display in its members' groups", async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Before rename'), [u.id]);
    const name = uniqueName('After rename');
    await patchGroup(scim, g.id, { op: 'replace', path: 'displayName', value: name });
    assert.deepEqual(await groupsOfUser(scim, u.id), [{ value: g.id, display: name }]);
  });

  test("removing a member removes the group from the user's groups", async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Leave'), [u.id]);
    await patchGroup(scim, g.id, { op: 'remove', path: `members[value eq "${u.id}"]` });
    assert.deepEqual(await groupsOfUser(scim, u.id), []);
  });

  test('user lists and .search show groups too', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('In list'), [u.id]);
    const list = await scim.get(`/Users?filter=${encodeURIComponent(`id eq "${u.id}"`)}`);
    assertStatus(list, 200);
    assert.deepEqual((list.body.Resources[0].groups as Body[]).map((x) => [x.value, x.display]), [[g.id, g.displayName]], list.describe);
  });

  test('SCIM DELETE of a user removes its memberships: the group no longer lists it', async () => {
    const [u1, u2] = await newUsers(scim, 2);
    const g = await newGroup(scim, uniqueName('Delete member'), [u1.id, u2.id]);
    assertStatus(await scim.delete(`/Users/${u1.id}`), 204);
    await assertMembers(scim, g.id, [u2.id]);
    assert.equal((await scim.get(groupFilter(`members.value eq "${u1.id}"`))).body.totalResults, 0);
  });

  test('deactivating a user (active false) keeps its memberships', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim, uniqueName('Deactivate member'), [u.id]);
    assertStatus(await scim.patch(`/Users/${u.id}`, patchBody({ op: 'replace', value: { active: false } })), 200);
    await assertMembers(scim, g.id, [u.id]);
    assert.deepEqual(await groupsOfUser(scim, u.id), [{ value: g.id, display: g.displayName }]);
    // And a PUT with active false (Okta's other form) keeps them too.
    const user = (await scim.get(`/Users/${u.id}`)).body;
    assertStatus(await scim.put(`/Users/${u.id}`, userBody(user.userName, { active: false })), 200);
    await assertMembers(scim, g.id, [u.id]);
  });

  test('groups sent in a user POST have no effect (read-only, RFC 7643 §4.1.2)', async () => {
    const g = await newGroup(scim);
    const res = await scim.post('/Users', userBody(uniqueEmail('posted-groups'), { groups: [{ value: g.id, display: g.displayName }] }));
    assertStatus(res, 201);
    assert.deepEqual(res.body.groups ?? [], [], res.describe);
    assert.deepEqual(await groupsOfUser(scim, res.body.id), []);
    await assertMembers(scim, g.id, []);
  });

  test('a user PATCH on the read-only groups is refused with 400 mutability (RFC 7644 §3.5.2) and joins nothing', async () => {
    const u = await newUser(scim);
    const g = await newGroup(scim);
    const res = await scim.patch(`/Users/${u.id}`, patchBody({ op: 'add', path: 'groups', value: [{ value: g.id }] }));
    assertScimError(res, 400, 'mutability');
    await assertMembers(scim, g.id, []);
    assert.deepEqual(await groupsOfUser(scim, u.id), []);
  });

  test('groups sent in a user PUT have no effect: neither joins nor leaves', async () => {
    const u = await newUser(scim);
    const member = await newGroup(scim, uniqueName('Kept'), [u.id]);
    const other = await newGroup(scim, uniqueName('Not joined'));
    const user = (await scim.get(`/Users/${u.id}`)).body;
    const put = await scim.put(`/Users/${u.id}`, userBody(user.userName, { groups: [{ value: other.id }] }));
    assertStatus(put, 200);
    await assertMembers(scim, member.id, [u.id]);
    await assertMembers(scim, other.id, []);
    assertStatus(await scim.put(`/Users/${u.id}`, userBody(user.userName, { groups: [] })), 200);
    await assertMembers(scim, member.id, [u.id]);
    assert.deepEqual(await groupsOfUser(scim, u.id), [{ value: member.id, display: member.displayName }]);
  });
});

describe('tenant isolation (a foreign id is simply "not found")', () => {
  test("org B's token gets 404 on org A's group for GET, PUT, PATCH and DELETE, and lists and filters never show it", async () => {
    const a = await newOrg('groups-iso-a');
    const b = await newOrg('groups-iso-b');
    const ua = await newUser(a);
    const ub = await newUser(b);
    const name = uniqueName('Isolated');
    const g = await newGroup(a, name, [ua.id], { externalId: 'iso-ext' });
    assertScimError(await b.get(`/Groups/${g.id}`), 404);
    assertScimError(await b.put(`/Groups/${g.id}`, groupBody('Hijacked', [ub.id])), 404);
    assertScimError(await b.patch(`/Groups/${g.id}`, patchBody({ op: 'add', path: 'members', value: [{ value: ub.id }] })), 404);
    assertScimError(await b.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', path: 'displayName', value: 'Hijacked' })), 404);
    assertScimError(await b.delete(`/Groups/${g.id}`), 404);
    const all = await b.get('/Groups?count=200');
    assertStatus(all, 200);
    assert.ok(!all.text.includes(g.id), all.describe);
    for (const f of [`displayName eq "${name}"`, `id eq "${g.id}"`, 'externalId eq "iso-ext"', `members.value eq "${ua.id}"`]) {
      const res = await b.get(groupFilter(f));
      assertStatus(res, 200);
      assert.equal(res.body.totalResults, 0, `${f}: ${res.describe}`);
    }
    const search = await b.post('/Groups/.search', { schemas: [SEARCH_SCHEMA], filter: `displayName eq "${name}"` });
    assertStatus(search, 200);
    assert.equal(search.body.totalResults, 0, search.describe);
    await assertGroupUnchanged(a, g);
    assert.deepEqual(await groupsOfUser(b, ub.id), [], "B's user joined no group");
  });

  test("org B cannot put org A's user in B's group, and A's user never shows B's group", async () => {
    const a = await newOrg('groups-iso-a2');
    const b = await newOrg('groups-iso-b2');
    const ua = await newUser(a);
    const gb = await newGroup(b);
    assertScimError(await b.patch(`/Groups/${gb.id}`, patchBody({ op: 'add', path: 'members', value: [{ value: ua.id }] })), 400, 'invalidValue', escapeRe(ua.id));
    await assertMembers(b, gb.id, []);
    assert.deepEqual(await groupsOfUser(a, ua.id), []);
  });
});

describe('ETags on groups (RFC 7644 §3.14)', () => {
  const STALE = 'W/"stale-version-0"';

  async function fresh(): Promise<{ g: Body; etag: string; u: Body }> {
    const u = await newUser(scim);
    const res = await scim.post('/Groups', groupBody(uniqueName('ETag'), [u.id]));
    assertStatus(res, 201);
    return { g: res.body, etag: res.headers.get('etag') as string, u };
  }

  test('GET carries an ETag header equal to meta.version', async () => {
    const { g } = await fresh();
    const res = await scim.get(`/Groups/${g.id}`);
    assertStatus(res, 200);
    assert.ok(res.headers.get('etag'), 'ETag missing');
    assert.equal(res.headers.get('etag'), res.body.meta.version);
  });

  test('PUT with a mismatched If-Match is refused with 412 and applies nothing', async () => {
    const { g } = await fresh();
    assertScimError(await scim.put(`/Groups/${g.id}`, groupBody('Nope', []), { headers: { 'if-match': STALE } }), 412);
    await assertGroupUnchanged(scim, g);
  });

  test('PATCH with a mismatched If-Match is refused with 412 and applies nothing (members included)', async () => {
    const { g } = await fresh();
    const res = await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', path: 'members', value: [] }, { op: 'replace', path: 'displayName', value: 'Nope' }), {
      headers: { 'if-match': STALE },
    });
    assertScimError(res, 412);
    await assertGroupUnchanged(scim, g);
  });

  test('DELETE with a mismatched If-Match is refused with 412 and the group stays', async () => {
    const { g } = await fresh();
    assertScimError(await scim.delete(`/Groups/${g.id}`, { headers: { 'if-match': STALE } }), 412);
    await assertGroupUnchanged(scim, g);
  });

  test('PATCH with the matching If-Match succeeds and the version changes; the old ETag then gets 412', async () => {
    const { g, etag } = await fresh();
    const res = await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', path: 'displayName', value: uniqueName('With ETag') }), { headers: { 'if-match': etag } });
    assertPatchOk(res, g.id);
    const now = await readGroup(scim, g.id);
    assert.notEqual(now.meta.version, g.meta.version);
    assertScimError(await scim.put(`/Groups/${g.id}`, groupBody('Stale', []), { headers: { 'if-match': etag } }), 412);
  });

  test('a membership-only PATCH changes the version, so the old ETag gets 412', async () => {
    const { g, etag } = await fresh();
    const u2 = await newUser(scim);
    await patchGroup(scim, g.id, { op: 'add', path: 'members', value: [{ value: u2.id }] });
    const now = await readGroup(scim, g.id);
    assert.notEqual(now.meta.version, g.meta.version, 'the members changed, so the version must');
    assertScimError(await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'remove', path: 'members' }), { headers: { 'if-match': etag } }), 412);
    await assertMembers(scim, g.id, [...idsOf(g), u2.id]);
  });

  test('PUT and DELETE with the matching If-Match succeed', async () => {
    const { g, etag } = await fresh();
    const put = await scim.put(`/Groups/${g.id}`, groupBody(uniqueName('Put ETag'), []), { headers: { 'if-match': etag } });
    assertStatus(put, 200);
    assert.equal(put.headers.get('etag'), put.body.meta.version);
    assertStatus(await scim.delete(`/Groups/${g.id}`, { headers: { 'if-match': put.headers.get('etag') as string } }), 204);
  });

  test('If-Match: * matches any current version (RFC 7232 §3.1)', async () => {
    const { g } = await fresh();
    assertPatchOk(await scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', path: 'displayName', value: uniqueName('Any') }), { headers: { 'if-match': '*' } }), g.id);
  });

  test('GET with If-None-Match of the current version answers 304; after a membership change it answers 200', async () => {
    const { g, etag } = await fresh();
    assertStatus(await scim.get(`/Groups/${g.id}`, { headers: { 'if-none-match': etag } }), 304);
    await patchGroup(scim, g.id, { op: 'remove', path: 'members' });
    const changed = await scim.get(`/Groups/${g.id}`, { headers: { 'if-none-match': etag } });
    assertStatus(changed, 200);
    assert.deepEqual(idsOf(changed.body), []);
  });

  test('concurrent membership PATCHes carrying the same If-Match: exactly one succeeds, the others get 412 (RFC 7232 §3.1, no lost update)', async () => {
    const { g, etag } = await fresh();
    const users = await newUsers(scim, 10);
    const results = await Promise.all(
      users.map((u) => scim.patch(`/Groups/${g.id}`, patchBody({ op: 'replace', path: 'members', value: [{ value: u.id }] }), { headers: { 'if-match': etag } })),
    );
    const ok = results.filter((r) => r.status === 200 || r.status === 204);
    const refused = results.filter((r) => r.status === 412);
    assert.equal(ok.length, 1, `exactly one PATCH may pass the If-Match check; statuses: ${results.map((r) => r.status).join(',')}`);
    assert.equal(refused.length, results.length - 1, `the rest must be 412; statuses: ${results.map((r) => r.status).join(',')}`);
    const winner = users[results.indexOf(ok[0])];
    await assertMembers(scim, g.id, [winner.id], 'the one accepted replace');
  });

  test('deleting a member user changes the group (its members changed): If-None-Match with the old ETag answers 200 with the new members (RFC 7232 §3.2)', async () => {
    const { g, etag, u } = await fresh();
    assertStatus(await scim.delete(`/Users/${u.id}`), 204);
    const res = await scim.get(`/Groups/${g.id}`, { headers: { 'if-none-match': etag } });
    assertStatus(res, 200);
    assert.deepEqual(idsOf(res.body), []);
    assert.notEqual(res.body.meta.version, g.meta.version, 'meta.version must change when the members change');
  });
});

// ---------------------------------------------------------------------------
// Large groups: membership lives in its own table, so big groups must stay exact.

const LARGE_N = Number(process.env.GROUPS_LARGE_N ?? 5000);
const BATCH = 1000;

describe(`large groups (${LARGE_N} members, added ${BATCH} at a time)`, { timeout: 600_000 }, () => {
  let big: ScimClient;
  let userIds: string[] = [];
  let group: Body;

  before(async () => {
    assert.ok(LARGE_N >= 2000, 'the large-group test keeps at least 2,000 members');
    big = await newOrg('groups-large');
    const started = Date.now();
    userIds = await pool(
      Array.from({ length: LARGE_N }, (_, i) => i),
      32,
      async (i) => {
        const email = `big.${i}.${randomBytes(3).toString('hex')}@example.com`;
        const res = await big.post('/Users', userBody(email));
        assert.equal(res.status, 201, res.describe);
        return res.body.id as string;
      },
    );
    const created = Date.now() - started;
    group = await newGroup(big, 'Everyone');
    for (let i = 0; i < userIds.length; i += BATCH) {
      const batch = userIds.slice(i, i + BATCH).map((value) => ({ value }));
      const res = await big.patch(`/Groups/${group.id}`, patchBody({ op: 'add', path: 'members', value: batch }));
      assertPatchOk(res, group.id);
    }
    // eslint-disable-next-line no-console
    console.error(`# large groups: created ${LARGE_N} users in ${created} ms, group filled in ${Date.now() - started - created} ms`);
  });

  test('GET with excludedAttributes=members has no members', async () => {
    const res = await big.get(`/Groups/${group.id}?excludedAttributes=members`);
    assertStatus(res, 200);
    assert.ok(!('members' in res.body), `members must be left out (${res.text.length} bytes)`);
    assert.equal(res.body.displayName, 'Everyone');
    const list = await big.get('/Groups?excludedAttributes=members');
    assertStatus(list, 200);
    assert.ok(!('members' in list.body.Resources[0]), 'members left out in the list too');
  });

  test('GET without projection lists all members exactly once', async () => {
    const res = await big.get(`/Groups/${group.id}`);
    assertStatus(res, 200);
    const ids = (res.body.members as Body[]).map((m) => m.value);
    assert.equal(ids.length, LARGE_N);
    assert.equal(new Set(ids).size, LARGE_N, 'no member twice');
    assert.deepEqual([...ids].sort(), [...userIds].sort());
  });

  test('filter members.value eq "<id>" finds the group', async () => {
    const some = userIds[Math.floor(LARGE_N / 2)];
    const res = await big.get(groupFilter(`members.value eq "${some}"`, '&excludedAttributes=members'));
    assertStatus(res, 200);
    assert.equal(res.body.totalResults, 1, res.describe);
    assert.equal(res.body.Resources[0].id, group.id);
  });

  test('re-adding a batch of existing members keeps each once', async () => {
    const batch = userIds.slice(0, BATCH).map((value) => ({ value }));
    assertPatchOk(await big.patch(`/Groups/${group.id}`, patchBody({ op: 'add', path: 'members', value: batch })), group.id);
    const res = await big.get(`/Groups/${group.id}`);
    const ids = (res.body.members as Body[]).map((m) => m.value);
    assert.equal(ids.length, LARGE_N);
    assert.equal(new Set(ids).size, LARGE_N);
  });

  test('removing one member leaves N-1 and the filter no longer finds the group by that member', async () => {
    const gone = userIds[LARGE_N - 1];
    await patchGroup(big, group.id, { op: 'remove', path: `members[value eq "${gone}"]` });
    const res = await big.get(`/Groups/${group.id}`);
    assertStatus(res, 200);
    const ids = (res.body.members as Body[]).map((m) => m.value);
    assert.equal(ids.length, LARGE_N - 1);
    assert.equal(new Set(ids).size, LARGE_N - 1);
    assert.ok(!ids.includes(gone));
    const found = await big.get(groupFilter(`members.value eq "${gone}"`, '&excludedAttributes=members'));
    assert.equal(found.body.totalResults, 0, found.describe);
    const still = await big.get(groupFilter(`members.value eq "${userIds[0]}"`, '&excludedAttributes=members'));
    assert.equal(still.body.totalResults, 1, still.describe);
  });
});
