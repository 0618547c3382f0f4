// Replays what identity providers send, read at run time from the shared data
// next to the repository (never copied into it):
//   - ../shared/fixtures/okta.json and entra.json: request sequences in the
//     shapes Okta and Microsoft Entra ID send, with {{placeholders}};
//   - ../shared/conformance/idp-captures/{okta,azuread}__*.json: captured
//     traffic, each {request, response, method, path, statusCode}.
// Only the /Users requests are replayed here; test/http/replay-groups.test.ts
// replays the Groups ones.
// Each answer is checked against the RFC and Plumm's rules, and against the
// request it answers (the body reflects what was sent). The captured responses
// come from another server and are not the contract: where Plumm's rules differ
// (it refuses userName and primary-email changes), the test says so.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { type TestServer, startTestServer } from '../support/server.js';
import {
  type Body,
  ENTERPRISE_SCHEMA,
  LIST_SCHEMA,
  ScimClient,
  type ScimResponse,
  USER_SCHEMA,
  assertScimError,
  assertScimJson,
  assertStatus,
  sharedMissing,
  sharedPath,
  uniqueEmail,
  userBody,
} from '../support/http.js';


/** Shared data absent: fail under CI=true, otherwise skip with a visible note. */
function missingData(name: string, note: string): void {
  if (process.env.CI === 'true') test(name, () => assert.fail(`${note} (required when CI=true)`));
  else test(name, { skip: note }, () => {});
}

let server: TestServer;

before(async () => {
  server = await startTestServer();
});

after(async () => {
  await server?.close();
});

// Headers as each IdP sends them (see the "about" of each fixture).
const OKTA_HEADERS = { accept: 'application/scim+json', 'content-type': 'application/scim+json; charset=utf-8', 'user-agent': 'Okta SCIM Client' };
const ENTRA_HEADERS = { accept: 'application/scim+json', 'content-type': 'application/scim+json; charset=utf-8' };

async function orgClient(usernameFormat: 'email' | 'any', headers: Record<string, string>, name: string): Promise<ScimClient> {
  const org = await server.createOrg({ usernameFormat, name });
  return new ScimClient(server.scimUrl, org.token, headers);
}

// ---------------------------------------------------------------------------
// Placeholders

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

function fillText(text: string, vars: Record<string, string>, encode: boolean): string {
  return text.replace(PLACEHOLDER, (_whole, name: string) => {
    if (!Object.hasOwn(vars, name)) throw new Error(`placeholder {{${name}}} has no value yet (did an earlier step fail?)`);
    return encode ? encodeURIComponent(vars[name]) : vars[name];
  });
}

/** Fills placeholders in every string of a JSON value. */
function fillJson(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string') return fillText(value, vars, false);
  if (Array.isArray(value)) return value.map((v) => fillJson(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillJson(v, vars)]));
  return value;
}

/** Replaces one string everywhere in a JSON value (a captured id by ours). */
function replaceInJson(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value.split(from).join(to);
  if (Array.isArray(value)) return value.map((v) => replaceInJson(v, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceInJson(v, from, to)]));
  return value;
}

// ---------------------------------------------------------------------------
// Shared checks

function assertList(res: ScimResponse, total?: number): void {
  assertStatus(res, 200);
  assertScimJson(res);
  assert.deepEqual(res.body.schemas, [LIST_SCHEMA], res.describe);
  // Okta rejects a string counter: totalResults must be a JSON number (RFC 7644 §3.4.2).
  assert.equal(typeof res.body.totalResults, 'number', res.describe);
  if (total !== undefined) assert.equal(res.body.totalResults, total, res.describe);
  if (total === 0) assert.ok(res.body.Resources === undefined || (Array.isArray(res.body.Resources) && res.body.Resources.length === 0), res.describe);
}

function assertUser(res: ScimResponse, status: number): Body {
  assertStatus(res, status);
  assertScimJson(res);
  const u = res.body;
  assert.ok(Array.isArray(u.schemas) && u.schemas.includes(USER_SCHEMA), res.describe);
  assert.equal(typeof u.id, 'string', res.describe);
  assert.equal(u.meta?.resourceType, 'User', res.describe);
  assert.ok(!('password' in u), `password must never be returned: ${res.describe}`);
  assert.equal(res.headers.get('etag'), u.meta.version, 'ETag header equals meta.version');
  return u;
}

/** `sent` (a multi-valued attribute as the IdP sent it) is found, value for value, in `got`. */
function assertContainsItems(got: Body, sent: Body[], what: string): void {
  assert.ok(Array.isArray(got), `${what} should be a list, got ${JSON.stringify(got)}`);
  for (const item of sent) {
    const found = got.some((g: Body) => Object.entries(item).every(([k, v]) => JSON.stringify(g?.[k]) === JSON.stringify(v)));
    assert.ok(found, `${what} should hold ${JSON.stringify(item)}, got ${JSON.stringify(got)}`);
  }
}

/** The user attributes of a request that the answer must echo (RFC 7644 §3.3: the response holds the resource as created). */
function assertReflects(u: Body, sent: Body): void {
  for (const key of ['userName', 'externalId', 'displayName', 'nickName', 'title', 'locale', 'preferredLanguage', 'userType', 'timezone']) {
    if (sent[key] !== undefined) assert.equal(u[key], sent[key], key);
  }
  if (sent.active !== undefined) assert.equal(u.active, sent.active === true || String(sent.active).toLowerCase() === 'true', 'active');
  if (sent.name) for (const [k, v] of Object.entries(sent.name)) assert.equal(u.name?.[k], v, `name.${k}`);
  for (const key of ['emails', 'phoneNumbers', 'addresses']) if (Array.isArray(sent[key]) && sent[key].length > 0) assertContainsItems(u[key], sent[key], key);
  for (const urn of Object.keys(sent).filter((k) => k.startsWith('urn:'))) {
    for (const [k, v] of Object.entries(sent[urn] as Body)) assert.deepEqual(u[urn]?.[k], v, `${urn}:${k}`);
    assert.ok(u.schemas.includes(urn), `schemas should list ${urn}`);
  }
}

// ---------------------------------------------------------------------------
// Fixtures: okta.json and entra.json

interface Step {
  name: string;
  method: string;
  path: string;
  body?: unknown;
}

interface FixtureContext {
  scim: ScimClient;
  vars: Record<string, string>;
  /** The request body as sent, placeholders filled. */
  sent: Body;
}

type StepCheck = (res: ScimResponse, ctx: FixtureContext) => Promise<void> | void;

function replayFixture(
  label: string,
  file: string,
  setup: () => Promise<{ scim: ScimClient; vars: Record<string, string> }>,
  checks: Record<string, StepCheck>,
): void {
  const missing = sharedMissing(file);
  if (missing) {
    missingData(`${label}: replay`, missing);
    return;
  }
  const steps = (JSON.parse(readFileSync(file, 'utf8')) as { steps: Step[] }).steps;
  describe(`${label} (${path.basename(file)})`, () => {
    let scim: ScimClient;
    let vars: Record<string, string>;
    before(async () => {
      ({ scim, vars } = await setup());
    });
    for (const step of steps) {
      if (/^\/Groups/i.test(step.path)) continue; // replayed by replay-groups.test.ts
      test(`${step.method} ${step.path}: ${step.name}`, async () => {
        const check = checks[step.name];
        assert.ok(check, `no expectation written for the /Users step "${step.name}": add one`);
        const p = fillText(step.path, vars, true);
        const sent = step.body === undefined ? undefined : fillJson(step.body, vars);
        const res = await scim.request(step.method, p, sent === undefined ? {} : { body: sent });
        await check(res, { scim, vars, sent });
      });
    }
  });
}

replayFixture(
  'Okta fixture',
  sharedPath('fixtures/okta.json'),
  async () => ({
    scim: await orgClient('email', OKTA_HEADERS, 'okta-fixture'),
    vars: { email: uniqueEmail('dana.reyes'), randomPassword: randomBytes(12).toString('base64url') },
  }),
  {
    'test API credentials': (res) => {
      assertList(res);
      assert.ok((res.body.Resources ?? []).length <= 2, 'count=2 returns at most 2');
    },
    'create: existence check': (res) => assertList(res, 0),
    'create: push new user': async (res, { vars, sent }) => {
      const u = assertUser(res, 201);
      assertReflects(u, sent);
      assert.ok(!res.text.includes(vars.randomPassword), 'the password is never echoed');
      assert.equal(res.headers.get('location'), u.meta.location, 'Location header (RFC 7644 §3.3)');
      vars.id = u.id;
    },
    'read back': (res, { vars }) => {
      const u = assertUser(res, 200);
      assert.equal(u.id, vars.id);
      assert.equal(u.userName, vars.email);
      assert.deepEqual(u.name, { givenName: 'Dana', familyName: 'Reyes' });
      assert.equal(u.active, true);
    },
    'push profile update (PUT replaces the whole user)': (res, { vars, sent }) => {
      const u = assertUser(res, 200);
      assert.equal(u.id, vars.id);
      assertReflects(u, sent);
      assert.equal(u.name.familyName, 'Reyes-Ortiz');
      assert.equal(u.displayName, 'Dana Reyes-Ortiz');
    },
    'push profile update (PATCH form, when the app is set to use PATCH)': (res, { vars }) => {
      const u = assertUser(res, 200);
      assert.equal(u.id, vars.id);
      assert.equal(u.name.givenName, 'Dana');
      assert.equal(u.name.familyName, 'Reyes-Ortiz');
      assert.equal(u.displayName, 'Dana Reyes-Ortiz');
    },
    'push user deactivation': async (res, { scim, vars }) => {
      const u = assertUser(res, 200);
      assert.strictEqual(u.active, false);
      // PRODUCT.md: deactivation keeps the user, shown as inactive.
      const got = assertUser(await scim.get(`/Users/${vars.id}`), 200);
      assert.strictEqual(got.active, false);
      assert.equal(got.displayName, 'Dana Reyes-Ortiz');
    },
    'reactivate user': (res) => {
      const u = assertUser(res, 200);
      assert.strictEqual(u.active, true);
    },
    'import users, page 1': (res, { vars }) => {
      assertList(res, 1);
      const u = res.body.Resources.find((r: Body) => r.id === vars.id);
      assert.ok(u, `the imported page should hold the user: ${res.describe}`);
      assert.equal(u.userName, vars.email);
      assert.equal(u.active, true);
    },
  },
);

replayFixture(
  'Entra fixture',
  sharedPath('fixtures/entra.json'),
  async () => {
    const scim = await orgClient('email', ENTRA_HEADERS, 'entra-fixture');
    // {{managerId}} is the id of a user created first.
    const manager = await scim.post('/Users', userBody(uniqueEmail('manager')));
    assertStatus(manager, 201);
    return {
      scim,
      vars: { email: uniqueEmail('sam.okafor'), randomGuid: randomUUID(), objectId: randomUUID(), groupObjectId: randomUUID(), managerId: manager.body.id },
    };
  },
  {
    'validate credentials / existence check by a random userName': (res) => assertList(res, 0),
    'existence check by externalId': (res) => assertList(res, 0),
    'create user with the enterprise extension': async (res, { scim, vars, sent }) => {
      const u = assertUser(res, 201);
      assertReflects(u, sent);
      assert.equal(u[ENTERPRISE_SCHEMA].manager.value, vars.managerId);
      assert.ok(u.schemas.includes(ENTERPRISE_SCHEMA));
      vars.id = u.id;
      // The next existence check by externalId now finds the user.
      const again = await scim.get(`/Users?filter=externalId+eq+%22${vars.objectId}%22`);
      assertList(again, 1);
      assert.equal(again.body.Resources[0].id, u.id);
    },
    'update attributes': async (res, { scim, vars }) => {
      const u = assertUser(res, 200);
      assert.equal(u.displayName, 'Sam A. Okafor');
      assert.equal(u.name.givenName, 'Samuel');
      assert.equal(u.name.familyName, 'Okafor', 'name.familyName is kept');
      // Add phoneNumbers[type eq "mobile"].value: no mobile yet, so one is created (Entra).
      assertContainsItems(u.phoneNumbers, [{ type: 'mobile', value: '+44 7700 900000' }, { type: 'work', value: '+44 20 7946 0000' }], 'phoneNumbers');
      const work = (u.addresses ?? []).filter((a: Body) => a.type === 'work');
      assert.equal(work.length, 1, `one work address: ${JSON.stringify(u.addresses)}`);
      assert.equal(work[0].locality, 'Manchester');
      assert.equal(work[0].formatted, '1 Example Street', 'the other sub-attributes are kept');
      assert.equal(work[0].country, 'GB');
      const ent = u[ENTERPRISE_SCHEMA];
      assert.equal(ent.department, 'Risk');
      assert.equal(ent.manager?.value, vars.managerId);
      assert.equal(ent.employeeNumber, '7001', 'employeeNumber is kept');
      assert.deepEqual(assertUser(await scim.get(`/Users/${vars.id}`), 200), u, 'GET returns what PATCH returned');
    },
    'disable (string boolean)': async (res, { scim, vars }) => {
      assert.strictEqual(assertUser(res, 200).active, false);
      assert.strictEqual(assertUser(await scim.get(`/Users/${vars.id}`), 200).active, false);
    },
    'enable again': (res) => {
      assert.strictEqual(assertUser(res, 200).active, true);
    },
    'hard delete user (Entra deletes after its soft-delete window)': async (res, { scim, vars }) => {
      assertStatus(res, 204);
      assertScimError(await scim.get(`/Users/${vars.id}`), 404);
    },
  },
);

// ---------------------------------------------------------------------------
// Captures: idp-captures/{okta,azuread}__*.json

interface Capture {
  request?: Body;
  response?: Body;
  method: string;
  path: string;
  statusCode: number;
}

interface CaptureContext {
  file: string;
  cap: Capture;
  all: Map<string, Capture>;
}

/** A stored user from a captured resource: what the other server held, less what a server assigns. */
function seedFrom(resource: Body): Body {
  const { id: _id, meta: _meta, ...rest } = structuredClone(resource);
  for (const [k, v] of Object.entries(rest)) if (v === null) delete rest[k];
  return rest;
}

/** The captured path with the captured id (the segment after /Users/) replaced by ours. */
function withId(cap: Capture, id: string): { path: string; capturedId: string } {
  const m = /^\/Users\/([^/?]+)/.exec(cap.path);
  assert.ok(m, `capture path ${cap.path} names no user id`);
  return { path: cap.path.replace(m[1], id), capturedId: m[1] };
}

async function createSeed(scim: ScimClient, seed: Body): Promise<Body> {
  const res = await scim.post('/Users', seed);
  assertStatus(res, 201);
  return res.body;
}

function oktaCreated(all: Map<string, Capture>): Body {
  const create = all.get('okta__create_user.json');
  assert.ok(create?.request, 'okta__create_user.json is needed to seed the Okta user');
  return create.request;
}

const CAPTURE_CHECKS: Record<string, (ctx: CaptureContext) => Promise<void>> = {
  async 'okta__user_exists.json'({ cap }) {
    const scim = await orgClient('email', OKTA_HEADERS, 'okta-capture-exists');
    assertList(await scim.get(cap.path), 0);
  },

  async 'okta__create_user.json'({ cap }) {
    const scim = await orgClient('email', OKTA_HEADERS, 'okta-capture-create');
    const res = await scim.post(cap.path, cap.request);
    const u = assertUser(res, 201);
    assertReflects(u, cap.request);
    assert.ok(!res.text.includes(cap.request.password), 'the password is never echoed');
    // The existence check Okta sends before creating now finds the user.
    assertList(await scim.get(`/Users?filter=userName+eq+%22${encodeURIComponent(cap.request.userName)}%22&startIndex=1&count=100`), 1);
  },

  async 'okta__retrieve_user.json'({ cap, all }) {
    const scim = await orgClient('email', OKTA_HEADERS, 'okta-capture-retrieve');
    const seed = oktaCreated(all);
    const created = await createSeed(scim, seed);
    const u = assertUser(await scim.get(withId(cap, created.id).path), 200);
    assert.equal(u.id, created.id);
    assertReflects(u, { ...seed, password: undefined });
  },

  async 'okta__update_user.json'({ cap, all }) {
    const scim = await orgClient('email', OKTA_HEADERS, 'okta-capture-put');
    const created = await createSeed(scim, oktaCreated(all));
    const { path: p, capturedId } = withId(cap, created.id);
    // Okta's PUT carries the id in the body too.
    const body = replaceInJson(cap.request, capturedId, created.id) as Body;
    const u = assertUser(await scim.put(p, body), 200);
    assert.equal(u.id, created.id);
    assertReflects(u, body);
    assert.deepEqual(u.name, { givenName: 'Another', middleName: 'Excited', familyName: 'User' });
    assertContainsItems(u.emails, [{ value: 'test.user@okta.local', display: 'test.user@okta.local', primary: true }], 'emails');
  },

  async 'okta__update_user_patch.json'({ cap, all }) {
    const scim = await orgClient('email', OKTA_HEADERS, 'okta-capture-patch');
    const created = await createSeed(scim, oktaCreated(all));
    const u = assertUser(await scim.patch(withId(cap, created.id).path, cap.request), 200);
    assert.strictEqual(u.active, false);
    const got = assertUser(await scim.get(`/Users/${created.id}`), 200);
    assert.strictEqual(got.active, false, 'deactivated users stay readable, shown as inactive');
    assert.equal(got.userName, created.userName);
  },

  async 'azuread__get_user_query_0.json'({ cap }) {
    const scim = await orgClient('any', ENTRA_HEADERS, 'azuread-capture-query0');
    assertList(await scim.get(cap.path), 0);
  },

  async 'azuread__create_user.json'({ cap }) {
    // Microsoft's test users have userNames that are not email addresses: an org
    // whose username format is "any" takes them (conformance README).
    const anyOrg = await orgClient('any', ENTRA_HEADERS, 'azuread-capture-create');
    const u = assertUser(await anyOrg.post(cap.path, cap.request), 201);
    assertReflects(u, cap.request);
    assert.notEqual(u.meta.created, undefined);
    // With the default Email format the same request is refused, and the detail
    // tells the administrator what to change.
    const emailOrg = await orgClient('email', ENTRA_HEADERS, 'azuread-capture-create-email');
    const refused = await emailOrg.post(cap.path, cap.request);
    assertScimError(refused, 400, 'invalidValue', /username format/i);
  },

  async 'azuread__get_user_query_resp.json'({ cap }) {
    const scim = await orgClient('any', ENTRA_HEADERS, 'azuread-capture-query1');
    const stored = cap.response.Resources[0];
    const created = await createSeed(scim, seedFrom(stored));
    const res = await scim.get(cap.path);
    assertList(res, 1);
    const u = res.body.Resources[0];
    assert.equal(u.id, created.id);
    assertReflects(u, seedFrom(stored));
  },

  async 'azuread__get_user_resp.json'({ cap }) {
    const scim = await orgClient('any', ENTRA_HEADERS, 'azuread-capture-get');
    const created = await createSeed(scim, seedFrom(cap.response));
    const u = assertUser(await scim.get(withId(cap, created.id).path), 200);
    assert.equal(u.id, created.id);
    assertReflects(u, seedFrom(cap.response));
  },

  async 'azuread__update_user.json'({ cap }) {
    // This capture changes userName and the work (primary) email in one PATCH,
    // along with familyName and active. The server it was captured from answered
    // 200 with everything applied. Plumm refuses userName and primary-email
    // changes on purpose (PRODUCT.md: "a clear, specific error, never a silent
    // half-update"): the answer is 400 mutability and NOTHING in the request is
    // applied, not even familyName or active.
    const scim = await orgClient('any', ENTRA_HEADERS, 'azuread-capture-update');
    const before = await createSeed(scim, {
      schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
      externalId: cap.response.externalId,
      userName: `Test_User_${randomUUID()}`,
      active: true,
      emails: [{ primary: true, type: 'work', value: `Test_User_${randomUUID()}@testuser.com` }],
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    });
    const res = await scim.patch(withId(cap, before.id).path, cap.request);
    assertScimError(res, 400, 'mutability');
    const after = assertUser(await scim.get(`/Users/${before.id}`), 200);
    assert.deepEqual(after, before, 'the refused PATCH must leave the user exactly as it was');
    // The same operations without the identity changes are applied.
    const ops = (cap.request.Operations as Body[]).filter((op) => !/^(userName|emails)/i.test(op.path));
    const ok = assertUser(await scim.patch(`/Users/${before.id}`, { ...cap.request, Operations: ops }), 200);
    assert.equal(ok.name.familyName, 'updatedFamilyName');
    assert.strictEqual(ok.active, false);
    assert.equal(ok.userName, before.userName);
  },
};

const CAPTURES_DIR = sharedPath('conformance/idp-captures');
const capturesMissing = sharedMissing(CAPTURES_DIR);
if (capturesMissing) {
  missingData('IdP captures: replay', capturesMissing);
} else {
  const files = readdirSync(CAPTURES_DIR).filter((f) => /^(okta|azuread)__.*\.json$/.test(f)).sort();
  const all = new Map<string, Capture>(files.map((f) => [f, JSON.parse(readFileSync(path.join(CAPTURES_DIR, f), 'utf8')) as Capture]));
  describe('IdP captures (idp-captures/)', () => {
    test('the capture directory holds Okta and Azure AD user captures', () => {
      assert.ok([...all.values()].some((c) => c.path.startsWith('/Users')), `no user captures in ${CAPTURES_DIR}`);
    });
    for (const [file, cap] of all) {
      const name = `${file}: ${cap.method} ${cap.path}`;
      if (/^\/Groups/i.test(cap.path)) {
        continue; // replayed by replay-groups.test.ts
      } else if (/^\/Users/i.test(cap.path)) {
        test(name, async () => {
          const check = CAPTURE_CHECKS[file];
          assert.ok(check, `no replay written for the user capture ${file}: add one`);
          await check({ file, cap, all });
        });
      } else {
        test(name, { skip: `not a /Users or /Groups capture (${cap.path})` }, () => {});
      }
    }
  });
}
