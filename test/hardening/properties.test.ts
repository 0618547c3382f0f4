/**
 * Property-based hardening (fast-check, fixed seed; see support.ts SEED):
 *
 * 1. The filter parser: random filter trees format and parse back to the same
 *    tree; random and mutated filter strings (derived from valid ones) either
 *    parse — and then round-trip — or throw FilterSyntaxError, nothing else.
 * 2. The PATCH applier: random and mutated operations derived from the IdP
 *    fixtures (../shared/fixtures/*.json, read at run time) either apply or
 *    throw a 4xx ScimError, never anything else, and never change their input.
 * 3. The HTTP handlers: random and mutated IdP requests never get a 5xx; every
 *    error is SCIM JSON; a refused request leaves users, groups and
 *    memberships exactly as they were.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ScimError } from '../../src/scim/errors.js';
import {
  type AttrPath,
  type CompareOp,
  type Filter,
  FilterSyntaxError,
  MAX_FILTER_DEPTH,
  formatFilter,
  parseFilter,
  parsePatchPath,
} from '../../src/scim/filter.js';
import { applyPatch, parsePatchRequest } from '../../src/scim/patch.js';
import { parseListParams } from '../../src/scim/query.js';
import { type JsonObject, normalizeResource } from '../../src/scim/resource.js';
import { groupResourceType, userResourceType } from '../../src/scim/schema.js';
import { type TestServer, startTestServer } from '../support/server.js';
import { ERROR_SCHEMA, PATCH_SCHEMA } from '../support/http.js';
import {

  SEED,
  fillJson,
  fillText,
  hostileJson,
  jsonMutations,
  loadFixtures,
  missingData,
  mutateJson,
  mutateString,
  prototypeKeys,
  snapshotTenantTables,
  stringMutations,
} from './support.js';

const PROTOTYPE_KEYS = prototypeKeys();

/** A short rendering of any value for assertion messages. */
const show = (v: unknown) => String(JSON.stringify(v)).slice(0, 400);

function assertNoPollution(): void {
  assert.deepEqual(prototypeKeys(), PROTOTYPE_KEYS, 'Object.prototype / Array.prototype gained keys');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype.polluted is set');
}

// ---------------------------------------------------------------------------
// 1. Filter parser

const NAMES = ['userName', 'emails', 'value', 'type', 'primary', 'members', 'displayName', 'externalId', 'active', 'meta', 'lastModified', '$ref', 'and', 'or', 'pr', 'eq', 'x-y_z'];
const URIS = [
  'urn:ietf:params:scim:schemas:core:2.0:User',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
  'urn:ietf:params:scim:schemas:core:2.0:Group',
  'urn:acme:v1.2:Thing',
];
/** An ATTRNAME (RFC 7644): a letter, then letters, digits, "-" or "_"; `not` alone is the keyword. */
const name = fc.oneof(fc.constantFrom(...NAMES), fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,10}$/)).filter((n) => n.toLowerCase() !== 'not');
const attrPath: fc.Arbitrary<AttrPath> = fc.record({ uri: fc.constantFrom(...URIS), attr: name, sub: name }, { requiredKeys: ['attr'] });
const simplePath: fc.Arbitrary<AttrPath> = fc.record({ uri: fc.constantFrom(...URIS), attr: name }, { requiredKeys: ['attr'] });
const filterValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  // -0 formats as "0" (JSON): the same value for every comparison, but not Object.is-equal.
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.boolean(),
  fc.constant(null),
);
const compareOp = fc.constantFrom<CompareOp>('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le');
const leaf: fc.Arbitrary<Filter> = fc.oneof(
  fc.record({ kind: fc.constant('compare' as const), path: attrPath, op: compareOp, value: filterValue }),
  fc.record({ kind: fc.constant('present' as const), path: attrPath }),
);

/** Filter trees the parser can produce: no value path inside a value path, none on a sub-attribute. */
const { filter: rawFilterTree } = fc.letrec<{ filter: Filter; inner: Filter }>((tie) => ({
  filter: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('filter'), right: tie('filter') }),
    fc.record({ kind: fc.constant('not' as const), filter: tie('filter') }),
    fc.record({ kind: fc.constant('valuePath' as const), path: simplePath, filter: tie('inner') }),
  ),
  inner: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('inner'), right: tie('inner') }),
    fc.record({ kind: fc.constant('not' as const), filter: tie('inner') }),
  ),
}));

/** As plain objects (fast-check records have a null prototype; the parser builds plain ones). */
const filterTree = rawFilterTree.map((t) => JSON.parse(JSON.stringify(t)) as Filter);

/** Valid filters as identity providers and the RFC write them. */
const VALID_FILTERS = [
  'userName eq "dana.reyes@example.com"',
  'externalId eq "00u1a2b3c4d5e6f7g8h9"',
  'displayName eq "Wellbeing Champions"',
  'userName Eq "x" and active eq true',
  'emails[type eq "work" and value co "@example.com"]',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7001"',
  'meta.lastModified gt "2011-05-13T04:42:34Z"',
  'not (userName sw "a") or (title pr and userType eq "Employee")',
  'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
  'name.familyName co "O\'Malley" and x eq -1.5e3',
  'emails.value ew "\\u00e9\\"x\\\\"',
  'a eq null or b ne false',
  '((((a pr))))',
];

/** -0 and 0 are the same filter value; compare ASTs as JSON (which also keeps lone surrogates). */
const sameTree = (a: Filter, b: Filter) => assert.equal(JSON.stringify(a), JSON.stringify(b));

function parseOrSyntaxError(text: string, parse: (t: string) => unknown): unknown {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof FilterSyntaxError) {
      assert.equal(typeof err.message, 'string');
      if (err.position !== undefined) assert.ok(err.position >= 0 && err.position <= text.length, `position in range: ${err.position}`);
      return undefined;
    }
    throw new assert.AssertionError({ message: `threw ${String(err)} (not a FilterSyntaxError) for ${JSON.stringify(text.slice(0, 300))}` });
  }
}

describe('filter parser properties', () => {
  test('parse(format(tree)) gives the tree back', () => {
    fc.assert(
      fc.property(filterTree, (tree) => {
        const text = formatFilter(tree);
        assert.deepStrictEqual(parseFilter(text), tree, text);
      }),
      { seed: SEED, numRuns: 2_000, includeErrorInReport: true },
    );
  });

  test('format is a fixpoint: format(parse(format(t))) = format(t)', () => {
    fc.assert(
      fc.property(filterTree, (tree) => {
        const text = formatFilter(tree);
        assert.equal(formatFilter(parseFilter(text)), text);
      }),
      { seed: SEED, numRuns: 1_000, includeErrorInReport: true },
    );
  });

  test('mutated filters either parse (and then round-trip) or throw FilterSyntaxError', () => {
    const source = fc.oneof(fc.constantFrom(...VALID_FILTERS), filterTree.map(formatFilter));
    fc.assert(
      fc.property(source, stringMutations, (valid, ms) => {
        const text = mutateString(valid, ms);
        const parsed = parseOrSyntaxError(text, parseFilter) as Filter | undefined;
        if (parsed) sameTree(parseFilter(formatFilter(parsed)), parsed);
      }),
      { seed: SEED, numRuns: 5_000, includeErrorInReport: true },
    );
  });

  test('random strings either parse or throw FilterSyntaxError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 60 })), (text) => {
        const parsed = parseOrSyntaxError(text, parseFilter) as Filter | undefined;
        if (parsed) sameTree(parseFilter(formatFilter(parsed)), parsed);
      }),
      { seed: SEED, numRuns: 3_000, includeErrorInReport: true },
    );
  });

  test('mutated PATCH paths either parse or throw FilterSyntaxError', () => {
    const paths = ['members', 'members[value eq "abc"]', 'emails[type eq "work"].value', 'name.givenName', 'phoneNumbers[type eq "mobile"].value',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager', 'active', 'addresses[type eq "work"].locality'];
    fc.assert(
      fc.property(fc.constantFrom(...paths), stringMutations, (valid, ms) => {
        parseOrSyntaxError(mutateString(valid, ms), parsePatchPath);
      }),
      { seed: SEED, numRuns: 3_000, includeErrorInReport: true },
    );
  });

  test('hostile sizes: deep nesting and long chains are refused or parsed, fast, without stack overflow', () => {
    const cases = [
      '('.repeat(100_000) + 'a pr' + ')'.repeat(100_000),
      'not ('.repeat(MAX_FILTER_DEPTH + 1) + 'a pr' + ')'.repeat(MAX_FILTER_DEPTH + 1),
      'emails['.repeat(10_000),
      Array.from({ length: 20_000 }, (_, i) => `a${i} eq ${i}`).join(' and '),
      Array.from({ length: 20_000 }, (_, i) => `a${i} pr`).join(' or '),
      `a eq "${'\\u0041'.repeat(50_000)}"`,
      `a eq "${'x'.repeat(500_000)}`,
      'urn:' + 'a:'.repeat(50_000) + 'b eq 1',
      '1'.repeat(100_000),
    ];
    for (const text of cases) {
      const started = performance.now();
      const parsed = parseOrSyntaxError(text, parseFilter) as Filter | undefined;
      // Trees this deep are compared by their canonical text (formatFilter walks chains iteratively).
      if (parsed) assert.equal(formatFilter(parseFilter(formatFilter(parsed))), formatFilter(parsed));
      assert.ok(performance.now() - started < 2_000, `parsing ${text.length} characters took too long`);
    }
    // Exactly at the cap parses; one more level is refused.
    assert.ok(parseFilter('('.repeat(MAX_FILTER_DEPTH) + 'a pr' + ')'.repeat(MAX_FILTER_DEPTH)));
  });

  test('list parameters from any query object: parsed, or a 400 ScimError', () => {
    const key = fc.constantFrom('filter', 'FILTER', 'sortBy', 'sortOrder', 'startIndex', 'count', 'attributes', 'excludedAttributes', 'other');
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(...VALID_FILTERS),
      fc.constantFrom(...VALID_FILTERS).chain((f) => stringMutations.map((ms) => mutateString(f, ms))),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
      fc.constantFrom('-1', '1e400', 'NaN', '0x10', ' 7 ', 'descending', Array(150).fill('userName').join(',')),
      hostileJson,
    );
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), (query) => {
        try {
          const p = parseListParams(query);
          assert.ok(p.startIndex >= 1 && p.count >= 0 && p.count <= 200, JSON.stringify(p));
        } catch (err) {
          assert.ok(err instanceof ScimError, `threw ${String(err)} for ${show(query)}`);
          assert.equal(err.status, 400);
        }
      }),
      { seed: SEED, numRuns: 3_000, includeErrorInReport: true },
    );
  });
});

// ---------------------------------------------------------------------------
// 2. PATCH applier

const loaded = loadFixtures();
const FIXED_VARS: Record<string, string> = {
  email: 'dana.reyes@example.com',
  id: '23a35c27-23d3-4c03-b4c5-6443c09e7173',
  groupId: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b',
  managerId: '2819c223-7f76-453a-919d-413861904646',
  objectId: '6c75de36-30fa-4d2d-a196-6bdcdb6b6539',
  groupObjectId: 'e1c3a3a0-5d2b-4f0b-9a43-3bd31f1a7c11',
  randomGuid: '0f0e0d0c-0b0a-4908-8706-050403020100',
  randomPassword: 'Hunter2-fixture-password!',
};

function expectScim4xx(err: unknown, what: string): void {
  if (!(err instanceof ScimError)) {
    throw new assert.AssertionError({ message: `${what}: threw ${err instanceof Error ? err.stack : String(err)} (not a ScimError)` });
  }
  assert.ok(err.status >= 400 && err.status < 500, `${what}: ScimError with status ${err.status}`);
}

if ('missing' in loaded) {
  missingData('PATCH applier properties over the IdP fixtures', loaded.missing);
  missingData('HTTP handler properties over the IdP fixtures', loaded.missing);
} else {
  const steps = loaded.steps;
  const patchSteps = steps.filter((s) => s.method === 'PATCH' && s.body !== undefined);
  const userPatches = patchSteps.filter((s) => s.path.startsWith('/Users')).map((s) => fillJson(s.body, FIXED_VARS));
  const groupPatches = patchSteps.filter((s) => s.path.startsWith('/Groups')).map((s) => fillJson(s.body, FIXED_VARS));
  const fixtureOps = [...userPatches, ...groupPatches].flatMap((b) => ((b as { Operations: unknown[] }).Operations ?? []));
  const fixturePaths = fixtureOps.map((o) => (o as { path?: string }).path).filter((p): p is string => typeof p === 'string');
  const fixtureValues = fixtureOps.map((o) => (o as { value?: unknown }).value).filter((v) => v !== undefined);

  /** Resources in canonical (stored) form, built from the fixtures' create bodies. */
  const userResources = steps
    .filter((s) => s.path === '/Users' && (s.method === 'POST' || s.method === 'PUT') && s.body)
    .map((s) => ({ ...normalizeResource(userResourceType, fillJson(s.body, FIXED_VARS)), active: true }) as JsonObject);
  const groupResources = [
    ...steps
      .filter((s) => s.path === '/Groups' && s.method === 'POST' && s.body)
      .map((s) => normalizeResource(groupResourceType, fillJson(s.body, FIXED_VARS))),
    { displayName: 'Wellbeing Champions', members: [{ value: FIXED_VARS.id }, { value: FIXED_VARS.managerId }] } as JsonObject,
  ];

  const opName = fc.oneof(
    { arbitrary: fc.constantFrom('add', 'remove', 'replace', 'Add', 'Replace', 'Remove', 'REPLACE', ' add '), weight: 8 },
    { arbitrary: fc.constantFrom('delete', 'copy', 'move', 'test', '', null, 1, true, [], {}), weight: 1 },
  );
  const opPath = fc.oneof(
    { arbitrary: fc.constantFrom(...fixturePaths), weight: 4 },
    { arbitrary: fc.constantFrom(...fixturePaths).chain((p) => stringMutations.map((ms) => mutateString(p, ms))), weight: 3 },
    {
      arbitrary: fc.constantFrom('userName', 'emails', 'emails[type eq "work"].value', 'emails[primary eq true]', 'name', 'name.familyName', 'id', 'meta',
        'meta.created', 'groups', 'password', 'active', 'addresses[type eq "home"].country', 'x509Certificates', 'roles[value eq "a"]', 'members',
        'members[value eq "x"].display', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager', 'urn:acme:1.0:User:costCode', 'urn:acme:1.0:User:constructor', 'urn:acme:1.0:User:__proto__',
        'urn:ietf:params:scim:api:messages:2.0:PatchOp:x', 'displayName', '__proto__', 'constructor.prototype'),
      weight: 3,
    },
    { arbitrary: fc.constantFrom(undefined, null, '', '   ', 7, {}), weight: 1 },
  );
  const opValue = fc.oneof(
    { arbitrary: fc.constantFrom(...fixtureValues), weight: 3 },
    { arbitrary: fc.constantFrom(...fixtureValues).chain((v) => jsonMutations.map((ms) => mutateJson(v, ms))), weight: 3 },
    { arbitrary: hostileJson, weight: 3 },
    { arbitrary: fc.constant(undefined), weight: 1 },
  );
  const randomOp = fc.record({ op: opName, path: opPath, value: opValue }).map((o) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
    return out;
  });
  const randomBody = fc.array(randomOp, { minLength: 1, maxLength: 4 }).map((Operations) => ({ schemas: [PATCH_SCHEMA], Operations }));
  const mutatedBody = fc.constantFrom(...userPatches, ...groupPatches).chain((b) => jsonMutations.map((ms) => mutateJson(b, ms)));
  const anyBody = fc.oneof(randomBody, mutatedBody, fc.constantFrom(...userPatches, ...groupPatches));

  describe('PATCH applier properties (IdP fixture shapes)', () => {
    test('the fixtures hold PATCH requests and resources to apply them to', () => {
      assert.ok(userPatches.length > 0 && groupPatches.length > 0 && userResources.length > 0);
    });

    for (const [label, rt, resources] of [
      ['User', userResourceType, userResources],
      ['Group', groupResourceType, groupResources],
    ] as const) {
      test(`${label}: parse + apply either succeed or throw a 4xx ScimError, and never change their input`, () => {
        fc.assert(
          fc.property(anyBody, fc.constantFrom(...resources), (body, resource) => {
            const bodyBefore = structuredClone(body);
            let ops;
            try {
              ops = parsePatchRequest(body);
            } catch (err) {
              expectScim4xx(err, `parsePatchRequest(${show(body)})`);
              assert.deepStrictEqual(body, bodyBefore, 'parsePatchRequest changed the body');
              return;
            }
            assert.deepStrictEqual(body, bodyBefore, 'parsePatchRequest changed the body');
            const resourceBefore = structuredClone(resource);
            const opsBefore = structuredClone(ops);
            try {
              const out = applyPatch(rt, resource, ops);
              assert.notEqual(out, resource, 'applyPatch returns a copy');
              assert.doesNotThrow(() => JSON.stringify(out));
            } catch (err) {
              expectScim4xx(err, `applyPatch(${show(ops)})`);
            }
            assert.deepStrictEqual(resource, resourceBefore, 'applyPatch changed the resource');
            assert.deepStrictEqual(ops, opsBefore, 'applyPatch changed the operations');
            assertNoPollution();
          }),
          { seed: SEED, numRuns: 3_000, includeErrorInReport: true },
        );
      });

      test(`${label}: operations built by callers (unvalidated op/path/value) only ever throw a 4xx ScimError`, () => {
        fc.assert(
          fc.property(fc.array(randomOp, { minLength: 1, maxLength: 3 }), fc.constantFrom(...resources), (ops, resource) => {
            const resourceBefore = structuredClone(resource);
            try {
              // eslint-disable-next-line @typescript-eslint/no-explicit-any
              applyPatch(rt, resource, ops as any);
            } catch (err) {
              expectScim4xx(err, `applyPatch(${show(ops)})`);
            }
            assert.deepStrictEqual(resource, resourceBefore, 'applyPatch changed the resource');
            assertNoPollution();
          }),
          { seed: SEED, numRuns: 2_000, includeErrorInReport: true },
        );
      });
    }
  });

  // -------------------------------------------------------------------------
  // 3. HTTP handlers

  describe('HTTP handler properties (IdP fixture requests, mutated)', () => {
    let server: TestServer;
    let token: string;
    const vars: Record<string, string> = { ...FIXED_VARS };

    async function createUser(email: string): Promise<string> {
      const res = await fetch(`${server.scimUrl}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ userName: email, emails: [{ value: email, primary: true, type: 'work' }], active: true }),
      });
      const body = (await res.json()) as { id: string };
      assert.equal(res.status, 201, JSON.stringify(body));
      return body.id;
    }

    /** Keeps a live user, a manager and a group with members for the requests to aim at (a lucky DELETE may remove them). */
    async function ensureTargets(): Promise<void> {
      const db = server.server.store.db;
      const live = async (table: 'users' | 'groups', id: string) =>
        table === 'users'
          ? (await db.selectFrom('users').select('id').where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst()) !== undefined
          : (await db.selectFrom('groups').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
      if (!(await live('users', vars.id))) {
        vars.email = `dana.${randomUUID().slice(0, 8)}@example.com`;
        vars.id = await createUser(vars.email);
      }
      if (!(await live('users', vars.managerId))) vars.managerId = await createUser(`manager.${randomUUID().slice(0, 8)}@example.com`);
      if (!(await live('groups', vars.groupId))) {
        const res = await fetch(`${server.scimUrl}/Groups`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
          body: JSON.stringify({ displayName: `Group ${randomUUID().slice(0, 8)}`, members: [{ value: vars.id }, { value: vars.managerId }] }),
        });
        const body = (await res.json()) as { id: string };
        assert.equal(res.status, 201, JSON.stringify(body));
        vars.groupId = body.id;
      }
    }

    before(async () => {
      server = await startTestServer({ SCIM_RATE_LIMIT_PER_MINUTE: '100000000' });
      ({ token } = await server.createOrg({ name: 'Property org' }));
      // Another organization's data, which no request of the first may touch either.
      const other = await server.createOrg({ name: 'Bystander org' });
      await fetch(`${server.scimUrl}/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${other.token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ userName: 'bystander@example.org', emails: [{ value: 'bystander@example.org', primary: true }] }),
      });
      vars.id = 'none';
      vars.managerId = 'none';
      vars.groupId = 'none';
      await ensureTargets();
    });
    after(async () => server?.close());

    const CONTENT_TYPES = ['application/scim+json; charset=utf-8', 'application/json', 'application/scim+json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', ''];

    const request = fc.record({
      step: fc.constantFrom(...steps),
      fresh: fc.boolean(),
      method: fc.option(fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'), { freq: 4 }),
      pathMutations: fc.option(stringMutations, { freq: 2 }),
      bodyMutations: fc.option(jsonMutations, { freq: 2 }),
      rawMutations: fc.option(stringMutations, { freq: 6 }),
      contentType: fc.option(fc.constantFrom(...CONTENT_TYPES), { freq: 4 }),
      ifMatch: fc.option(fc.constantFrom('*', 'W/"1"', 'W/"999"', '"', 'W/', ''), { freq: 6 }),
    });

    function describeReq(method: string, url: string, body: string | undefined, extra = ''): string {
      return `${method} ${url.replace(server.baseUrl, '')} ${body === undefined ? '' : body.slice(0, 400)} ${extra}`;
    }

    test('no 5xx, errors are SCIM JSON, and a refused request changes nothing', async () => {
      let counts = { ok: 0, refused: 0 };
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          await ensureTargets();
          const v = r.fresh ? { ...vars, email: `new.${randomUUID().slice(0, 8)}@example.com` } : vars;
          const method = r.method ?? r.step.method;
          let path = fillText(r.step.path, v, true);
          if (r.pathMutations) path = mutateString(path, r.pathMutations);
          let body: string | undefined;
          if (r.step.body !== undefined || (r.method && r.method !== 'GET' && r.method !== 'DELETE')) {
            let doc = fillJson(r.step.body ?? {}, v);
            if (r.bodyMutations) doc = mutateJson(doc, r.bodyMutations);
            body = JSON.stringify(doc) ?? '';
            if (r.rawMutations) body = mutateString(body, r.rawMutations);
          }
          if (method === 'GET' || method === 'DELETE') body = undefined; // fetch refuses a GET body
          let url: string;
          try {
            url = new URL(`${server.scimUrl}${path}`).href;
          } catch {
            return; // not a URL a client could send
          }
          const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/scim+json' };
          if (body !== undefined) headers['content-type'] = r.contentType ?? 'application/scim+json; charset=utf-8';
          if (r.ifMatch !== null) headers['if-match'] = r.ifMatch;

          const before = await snapshotTenantTables(server.server.store.db);
          const res = await fetch(url, { method, headers, body, redirect: 'manual' });
          const text = await res.text();
          const what = describeReq(method, url, body, `-> ${res.status} ${text.slice(0, 400)}`);
          assert.ok(res.status < 500, `5xx: ${what}`);
          const type = res.headers.get('content-type') ?? '';
          const pathname = new URL(url).pathname;
          if (res.status >= 400) {
            counts.refused++;
            const expectedType = pathname.startsWith('/admin/') ? /^application\/json/ : /^application\/scim\+json/;
            assert.match(type, expectedType, `content type: ${what}`);
            const json = JSON.parse(text);
            assert.deepEqual(json.schemas, [ERROR_SCHEMA], `error schemas: ${what}`);
            assert.equal(json.status, String(res.status), `error status: ${what}`);
            assert.equal(typeof json.detail, 'string', `error detail: ${what}`);
            const after = await snapshotTenantTables(server.server.store.db);
            assert.deepStrictEqual(after, before, `a refused request changed the store: ${what}`);
          } else {
            counts.ok++;
            if (text !== '') assert.doesNotThrow(() => JSON.parse(text), `2xx body is JSON: ${what}`);
          }
          assertNoPollution();
        }),
        { seed: SEED, numRuns: 600, includeErrorInReport: true },
      );
      // The mix must exercise both paths, or the property proves little.
      assert.ok(counts.ok > 30 && counts.refused > 100, JSON.stringify(counts));
    });
  });
}



