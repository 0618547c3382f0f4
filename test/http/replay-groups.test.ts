// Replays what identity providers send to /Groups: the group steps of the
// Okta and Entra request fixtures (../shared/fixtures/) in their order, and the
// recorded group traffic of Okta and Azure AD (../shared/conformance/idp-captures/),
// with the ids of resources created here put in place of the recorded ones.
// Each answer is checked against RFC 7644 (status) and the state the request
// must leave behind (names, members), not against what the code happens to do.
// The shared files are read at run time and never copied into the repository;
// where they are absent the tests fail under CI=true and are skipped otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type TestServer, startTestServer } from '../support/server.js';
import {
  type Body,
  LIST_SCHEMA,
  ScimClient,
  type ScimResponse,
  assertScimError,
  assertScimJson,
  assertStatus,
  patchBody,
  sharedMissing,
  sharedPath,
  uniqueEmail,
  userBody,
} from '../support/http.js';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
/** What Okta and Entra send as Content-Type (fixtures' "about"). */
const IDP_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

const OKTA_FIXTURE = sharedPath('fixtures', 'okta.json');
const ENTRA_FIXTURE = sharedPath('fixtures', 'entra.json');
const CAPTURES = sharedPath('conformance', 'idp-captures');

interface Step {
  name: string;
  method: string;
  path: string;
  body?: unknown;
}

interface Capture {
  request?: unknown;
  response?: Body;
  method: string;
  path: string;
  statusCode: number;
}

/** Shared data is required in CI and skipped with a visible note elsewhere. */
function missingDataTest(name: string, missing: string): void {
  if (process.env.CI === 'true') test(name, () => assert.fail(`${missing} (required when CI=true)`));
  else test(name, { skip: missing }, () => {});
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Fills {{placeholders}} in every string of a value. */
function fill<T>(value: T, vars: Record<string, string>): T {
  const text = JSON.stringify(value).replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    if (!(name in vars)) throw new Error(`no value for placeholder ${whole}`);
    // The value lands inside a JSON string.
    return JSON.stringify(vars[name]).slice(1, -1);
  });
  return JSON.parse(text) as T;
}

/** Replaces recorded ids by ids of resources created here, in every string of a value. */
function substitute<T>(value: T, ids: Record<string, string>): T {
  let text = JSON.stringify(value);
  for (const [recorded, ours] of Object.entries(ids)) text = text.split(recorded).join(ours);
  return JSON.parse(text) as T;
}

/** The group steps of a fixture: from its first /Groups request to its last, in order (a user delete in between changes membership). */
function groupSteps(steps: Step[]): Step[] {
  const isGroup = (s: Step) => s.path.startsWith('/Groups');
  const first = steps.findIndex(isGroup);
  let last = -1;
  steps.forEach((s, i) => {
    if (isGroup(s)) last = i;
  });
  return first < 0 ? [] : steps.slice(first, last + 1);
}

async function send(client: ScimClient, method: string, path: string, body?: unknown): Promise<ScimResponse> {
  return client.request(method, path, body === undefined ? {} : { body, contentType: IDP_CONTENT_TYPE });
}

/** RFC 7643 §2.5: absent, null and [] all mean "no members". */
function idsOf(group: Body): string[] {
  const members = group?.members ?? [];
  assert.ok(Array.isArray(members), `members must be a list: ${JSON.stringify(group?.members)}`);
  return members.map((m: Body) => m.value).sort();
}

async function readGroup(client: ScimClient, id: string): Promise<Body> {
  const res = await client.get(`/Groups/${id}`);
  assertStatus(res, 200);
  return res.body;
}

async function assertGroupState(client: ScimClient, id: string, displayName: string, members: string[]): Promise<Body> {
  const g = await readGroup(client, id);
  assert.equal(g.displayName, displayName, `displayName of group ${id}`);
  assert.deepEqual(idsOf(g), [...members].sort(), `members of group ${id}: each expected member once, nothing else`);
  return g;
}

/** RFC 7644 §3.5.2: 200 with the resource, or 204 without a body. */
function assertPatchOk(res: ScimResponse, groupId: string): void {
  assert.ok(res.status === 200 || res.status === 204, `PATCH should answer 200 or 204: ${res.describe}`);
  if (res.status === 200) {
    assertScimJson(res);
    assert.equal(res.body.id, groupId, res.describe);
  }
}

/** RFC 7644 §3.3: 201, the resource with its new id, Location equal to meta.location. */
function assertCreated(res: ScimResponse): void {
  assertStatus(res, 201);
  assertScimJson(res);
  assert.ok(res.body.schemas?.includes(GROUP_SCHEMA), res.describe);
  assert.equal(typeof res.body.id, 'string');
  assert.equal(res.body.meta?.resourceType, 'Group');
  assert.ok(String(res.body.meta?.location).endsWith(`/Groups/${res.body.id}`), res.describe);
  assert.equal(res.headers.get('location'), res.body.meta.location);
}

async function newUser(client: ScimClient, email = uniqueEmail('replay')): Promise<Body> {
  const res = await client.post('/Users', userBody(email, { displayName: `Replay ${email}` }));
  assertStatus(res, 201);
  return res.body;
}

async function groupsOfUser(client: ScimClient, userId: string): Promise<string[]> {
  const res = await client.get(`/Users/${userId}`);
  assertStatus(res, 200);
  return ((res.body.groups ?? []) as Body[]).map((g) => g.value).sort();
}

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.close();
});

async function idpClient(name: string, headers: Record<string, string> = {}): Promise<ScimClient> {
  const org = await server.createOrg({ name });
  return new ScimClient(server.scimUrl, org.token, headers);
}

// ---------------------------------------------------------------------------
// Fixture replays. Each group step is one test, run in the fixture's order;
// `check` states what the step's answer and the state after it must be.

type Check = (res: ScimResponse) => Promise<void>;

function fixtureSuite(
  title: string,
  file: string,
  setup: () => Promise<{ client: ScimClient; vars: Record<string, string> }>,
  checks: (ctx: { client: ScimClient; vars: Record<string, string> }) => Record<string, Check>,
): void {
  const missing = sharedMissing(file);
  if (missing) {
    missingDataTest(title, missing);
    return;
  }
  const steps = groupSteps(readJson<{ steps: Step[] }>(file).steps);
  describe(title, () => {
    let ctx: { client: ScimClient; vars: Record<string, string> };
    let table: Record<string, Check>;
    let broken: string | undefined;

    before(async () => {
      ctx = await setup();
      table = checks(ctx);
    });

    test('the fixture has group steps', () => {
      assert.ok(steps.length > 0, `no /Groups steps in ${file}`);
    });

    for (const step of steps) {
      test(`${step.method} ${step.path} — ${step.name}`, async (t) => {
        if (broken) {
          t.diagnostic(`an earlier step failed (${broken}); this step still runs`);
        }
        const check = table[step.name];
        assert.ok(check, `no expectation written for fixture step "${step.name}" (the fixture changed?)`);
        const path = fill(step.path, ctx.vars);
        const body = step.body === undefined ? undefined : fill(step.body, ctx.vars);
        const res = await send(ctx.client, step.method, path, body);
        try {
          await check(res);
        } catch (err) {
          broken ??= step.name;
          throw err;
        }
      });
    }
  });
}

fixtureSuite(
  'Okta fixture: group push steps, in order',
  OKTA_FIXTURE,
  async () => {
    const client = await idpClient('replay-okta-fixture', { 'user-agent': 'Okta SCIM Client' });
    const email = uniqueEmail('dana.reyes');
    const user = await newUser(client, email);
    // A group that exists before the import, so "import groups" has something to list.
    const existing = await client.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Existing Group', members: [{ value: user.id }] });
    assertStatus(existing, 201);
    return { client, vars: { id: user.id, email, existingGroupId: existing.body.id } };
  },
  ({ client, vars }) => ({
    'import groups, page 1': async (res) => {
      assertStatus(res, 200);
      assertScimJson(res);
      assert.deepEqual(res.body.schemas, [LIST_SCHEMA]);
      assert.equal(res.body.totalResults, 1, res.describe);
      assert.equal(res.body.startIndex, 1);
      assert.equal(res.body.Resources[0].displayName, 'Existing Group');
      for (const r of res.body.Resources as Body[]) assert.ok(!('members' in r), `excludedAttributes=members: ${res.describe}`);
    },
    'group push: existence check': async (res) => {
      assertStatus(res, 200);
      assert.equal(res.body.totalResults, 0, `the group does not exist yet: ${res.describe}`);
      assert.deepEqual(res.body.Resources ?? [], []);
    },
    'group push: create': async (res) => {
      assertCreated(res);
      assert.equal(res.body.displayName, 'Wellbeing Champions');
      assert.deepEqual(idsOf(res.body), []);
      vars.groupId = res.body.id;
      const found = await client.get('/Groups?filter=displayName%20eq%20%22Wellbeing%20Champions%22&startIndex=1&count=100');
      assert.equal(found.body.totalResults, 1, `the existence check now finds it: ${found.describe}`);
      assert.equal(found.body.Resources[0].id, vars.groupId);
    },
    'group push: confirm name (path-less replace with id)': async (res) => {
      assertPatchOk(res, vars.groupId);
      await assertGroupState(client, vars.groupId, 'Wellbeing Champions', []);
    },
    'group push: add members': async (res) => {
      assertPatchOk(res, vars.groupId);
      await assertGroupState(client, vars.groupId, 'Wellbeing Champions', [vars.id]);
      assert.deepEqual(await groupsOfUser(client, vars.id), [vars.existingGroupId, vars.groupId].sort());
    },
    'group push: remove a member': async (res) => {
      assertPatchOk(res, vars.groupId);
      await assertGroupState(client, vars.groupId, 'Wellbeing Champions', []);
      assert.deepEqual(await groupsOfUser(client, vars.id), [vars.existingGroupId]);
    },
    'group push: empty group pushed': async (res) => {
      assertPatchOk(res, vars.groupId);
      await assertGroupState(client, vars.groupId, 'Wellbeing Champions', []);
    },
    'group push: unlink and delete': async (res) => {
      assertStatus(res, 204);
      assertScimError(await client.get(`/Groups/${vars.groupId}`), 404);
      await assertGroupState(client, vars.existingGroupId, 'Existing Group', [vars.id]);
      assertStatus(await client.get(`/Users/${vars.id}`), 200);
    },
  }),
);

fixtureSuite(
  'Entra fixture: group steps, in order',
  ENTRA_FIXTURE,
  async () => {
    const client = await idpClient('replay-entra-fixture');
    const email = uniqueEmail('sam.okafor');
    const user = await newUser(client, email);
    const manager = await newUser(client, uniqueEmail('manager'));
    return { client, vars: { id: user.id, email, managerId: manager.id, groupObjectId: randomUUID() } };
  },
  ({ client, vars }) => ({
    'group existence check': async (res) => {
      assertStatus(res, 200);
      assertScimJson(res);
      assert.equal(res.body.totalResults, 0, res.describe);
    },
    'create group': async (res) => {
      assertCreated(res);
      assert.equal(res.body.displayName, 'Finance Team');
      assert.equal(res.body.externalId, vars.groupObjectId);
      assert.deepEqual(idsOf(res.body), []);
      vars.groupId = res.body.id;
      // Entra's existence check (spaces as "+") now finds it, without members.
      const found = await client.get('/Groups?excludedAttributes=members&filter=displayName+eq+%22Finance+Team%22');
      assertStatus(found, 200);
      assert.equal(found.body.totalResults, 1, found.describe);
      assert.equal(found.body.Resources[0].id, vars.groupId);
      assert.ok(!('members' in found.body.Resources[0]), found.describe);
    },
    'add members': async (res) => {
      assertPatchOk(res, vars.groupId);
      await assertGroupState(client, vars.groupId, 'Finance Team', [vars.id, vars.managerId]);
    },
    'remove members by listing them': async (res) => {
      assertPatchOk(res, vars.groupId);
      await assertGroupState(client, vars.groupId, 'Finance Team', [vars.id]);
      assert.deepEqual(await groupsOfUser(client, vars.managerId), []);
    },
    'rename group': async (res) => {
      assertPatchOk(res, vars.groupId);
      await assertGroupState(client, vars.groupId, 'Finance & Risk', [vars.id]);
      const byName = await client.get(`/Groups?filter=${encodeURIComponent('displayName eq "Finance & Risk"')}`);
      assert.equal(byName.body.totalResults, 1, byName.describe);
      const res2 = await client.get(`/Users/${vars.id}`);
      assert.deepEqual(
        ((res2.body.groups ?? []) as Body[]).map((g) => [g.value, g.display]),
        [[vars.groupId, 'Finance & Risk']],
        "the member's groups show the new name",
      );
    },
    'hard delete user (Entra deletes after its soft-delete window)': async (res) => {
      assertStatus(res, 204);
      await assertGroupState(client, vars.groupId, 'Finance & Risk', []);
    },
    'delete group': async (res) => {
      assertStatus(res, 204);
      assertScimError(await client.get(`/Groups/${vars.groupId}`), 404);
      assert.equal((await client.get('/Groups')).body.totalResults, 0);
    },
  }),
);

// ---------------------------------------------------------------------------
// Captured IdP traffic. Each capture is one test; captures of one IdP share an
// organization and run in order. `ids` maps recorded ids to ours.

interface CaptureStep {
  file: string;
  /** Puts the organization in the state the recorded request met. */
  setup?: () => Promise<void>;
  check: (res: ScimResponse, recorded: Capture) => Promise<void>;
}

function captureSuite(
  title: string,
  build: () => { ids: Record<string, string>; init: () => Promise<void>; client: () => ScimClient; steps: CaptureStep[] },
): void {
  const { ids, init, client, steps } = build();
  describe(title, () => {
    before(init);
    for (const step of steps) {
      const file = `${CAPTURES}/${step.file}.json`;
      const missing = sharedMissing(file);
      if (missing) {
        missingDataTest(step.file, missing);
        continue;
      }
      const recorded = readJson<Capture>(file);
      test(`${step.file}: ${recorded.method} ${recorded.path} -> ${recorded.statusCode}`, async () => {
        await step.setup?.();
        const capture = substitute(recorded, ids);
        const res = await send(client(), capture.method, capture.path, capture.request);
        await step.check(res, capture);
      });
    }
  });
}

/** Compares the fields of a recorded response that describe state: id, displayName, externalId, member ids. */
function assertLikeRecorded(actual: Body, recorded: Body, fields: string[]): void {
  for (const f of fields) {
    if (f === 'members') assert.deepEqual(idsOf(actual), idsOf(recorded), 'members as recorded');
    else assert.equal(actual?.[f], recorded?.[f], `${f} as recorded`);
  }
}

captureSuite('Okta captures (group create, retrieve, membership, rename)', () => {
  const ids: Record<string, string> = {};
  let client: ScimClient;
  const users: Record<string, Body> = {};
  return {
    ids,
    client: () => client,
    init: async () => {
      client = await idpClient('replay-okta-captures', { 'user-agent': 'Okta SCIM Client' });
      // The users the captures name, created here; their ids replace the recorded ones.
      users.z = await newUser(client);
      users.x = await newUser(client, 'test.user.x@okta.local');
      users.y = await newUser(client, 'test.user@okta.local');
      ids['b1c794f24f4c49f4b5d503a4cb2686ea'] = users.z.id;
      ids['89bb1940-b905-4575-9e7f-6f887cfb368e'] = users.x.id;
      ids['23a35c27-23d3-4c03-b4c5-6443c09e7173'] = users.y.id;
    },
    steps: [
      {
        file: 'okta__create_group',
        check: async (res, recorded) => {
          assertCreated(res);
          assertLikeRecorded(res.body, recorded.response, ['displayName', 'members']);
          ids['abf4dd94-a4c0-4f67-89c9-76b03340cb9b'] = res.body.id;
          await assertGroupState(client, res.body.id, 'Test SCIMv2', []);
        },
      },
      {
        file: 'okta__retrieve_group',
        // The recorded group had one member when it was read.
        setup: async () => {
          const gid = ids['abf4dd94-a4c0-4f67-89c9-76b03340cb9b'];
          assertPatchOk(await client.patch(`/Groups/${gid}`, patchBody({ op: 'add', path: 'members', value: [{ value: users.z.id }] })), gid);
        },
        check: async (res, recorded) => {
          assertStatus(res, 200);
          assertScimJson(res);
          assertLikeRecorded(res.body, recorded.response, ['id', 'displayName', 'members']);
          assert.equal(res.body.meta?.resourceType, 'Group');
        },
      },
      {
        file: 'okta__update_group_membership',
        // Make the member the request removes first a member, so every operation changes something: {z, x}.
        setup: async () => {
          const gid = ids['abf4dd94-a4c0-4f67-89c9-76b03340cb9b'];
          assertPatchOk(await client.patch(`/Groups/${gid}`, patchBody({ op: 'add', path: 'members', value: [{ value: users.x.id }] })), gid);
          await assertGroupState(client, gid, 'Test SCIMv2', [users.z.id, users.x.id]);
        },
        // remove x -> {z}; add y -> {z, y}; replace with [y, x] -> {y, x}.
        check: async (res) => {
          const gid = ids['abf4dd94-a4c0-4f67-89c9-76b03340cb9b'];
          assertPatchOk(res, gid);
          if (res.status === 200) assert.deepEqual(idsOf(res.body), [users.x.id, users.y.id].sort(), 'the 200 body is the group after the change');
          await assertGroupState(client, gid, 'Test SCIMv2', [users.y.id, users.x.id]);
        },
      },
      {
        file: 'okta__update_group_name',
        // The recorded answer says "Test SCIMv20" while its request sets "Test SCIMv2";
        // the request decides: the name becomes the value sent, members are untouched.
        setup: async () => {
          const gid = ids['abf4dd94-a4c0-4f67-89c9-76b03340cb9b'];
          assertPatchOk(await client.patch(`/Groups/${gid}`, patchBody({ op: 'replace', path: 'displayName', value: 'Before rename' })), gid);
        },
        check: async (res, recorded) => {
          const gid = ids['abf4dd94-a4c0-4f67-89c9-76b03340cb9b'];
          assertPatchOk(res, gid);
          const sent = (recorded.request as Body).Operations[0].value.displayName;
          if (res.status === 200) assert.equal(res.body.displayName, sent);
          await assertGroupState(client, gid, sent, [users.y.id, users.x.id]);
        },
      },
    ],
  };
});

captureSuite('Azure AD captures (group create, get, get by displayName, update)', () => {
  const ids: Record<string, string> = {};
  let client: ScimClient;
  let member: Body;
  const EXTERNAL_ID = '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159';
  const gid = () => ids['927fa2c08dcb4a7fae9e'];
  return {
    ids,
    client: () => client,
    init: async () => {
      client = await idpClient('replay-azuread-captures');
      member = await newUser(client);
      ids['f648f8d5ea4e4cd38e9c'] = member.id;
      // The captures come from separate runs: their other externalIds stand for the one created here.
      ids['60f1bb27-2e1e-402d-bcc4-ec999564a194'] = EXTERNAL_ID;
      ids['0db508eb-91e2-46e4-809c-30dcbda0c685'] = EXTERNAL_ID;
    },
    steps: [
      {
        file: 'azuread__create_group',
        check: async (res, recorded) => {
          assertCreated(res);
          assertLikeRecorded(res.body, recorded.response, ['displayName', 'externalId', 'members']);
          // Every recorded group id stands for this group.
          for (const recordedId of ['927fa2c08dcb4a7fae9e', '40734ae655284ad3abcc', '8c601452cc934a9ebef9', 'fa2ce26709934589afc5']) ids[recordedId] = res.body.id;
        },
      },
      {
        file: 'azuread__get_group',
        check: async (res, recorded) => {
          assertStatus(res, 200);
          assertScimJson(res);
          assertLikeRecorded(res.body, recorded.response, ['id', 'displayName', 'externalId', 'members']);
        },
      },
      {
        file: 'azuread__get_group_dn',
        check: async (res, recorded) => {
          assertStatus(res, 200);
          assertScimJson(res);
          assert.deepEqual(res.body.schemas, [LIST_SCHEMA]);
          assert.equal(res.body.totalResults, recorded.response.totalResults, res.describe);
          assert.equal(res.body.startIndex, 1);
          assert.equal(res.body.Resources.length, recorded.response.Resources.length);
          assertLikeRecorded(res.body.Resources[0], recorded.response.Resources[0], ['id', 'displayName', 'externalId']);
        },
      },
      {
        file: 'azuread__update_group',
        // Replace displayName, add the member, remove the same member: in order, the member ends up out.
        check: async (res, recorded) => {
          assertPatchOk(res, gid());
          if (res.status === 200) assertLikeRecorded(res.body, recorded.response, ['id', 'displayName', 'externalId', 'members']);
          await assertGroupState(client, gid(), recorded.response.displayName, []);
          assert.deepEqual(await groupsOfUser(client, member.id), []);
        },
      },
    ],
  };
});
