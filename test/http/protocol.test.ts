// The SCIM protocol surface (RFC 7644) and Plumm's rules for it: authentication
// by token, the 403 for organizations without provisioning, the error format,
// content types, 404/405/413/415, discovery and request ids. Every failure must
// be SCIM JSON, never HTML (PRODUCT.md: the WAF story).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { issueToken, revokeToken } from '../../src/auth/tokens.js';
import { type TestServer, startTestServer } from '../support/server.js';
import {
  ENTERPRISE_SCHEMA,
  LIST_SCHEMA,
  RESOURCE_TYPE_SCHEMA,
  SCHEMA_SCHEMA,
  SPC_SCHEMA,
  ScimClient,
  type ScimResponse,
  USER_SCHEMA,
  assertScimError,
  assertScimJson,
  assertStatus,
  send,
  uniqueEmail,
  userBody,
} from '../support/http.js';

let server: TestServer;
let scim: ScimClient;

before(async () => {
  server = await startTestServer();
  const org = await server.createOrg({ name: 'protocol' });
  scim = new ScimClient(server.scimUrl, org.token);
});

after(async () => {
  await server?.close();
});

function assertNotHtml(res: ScimResponse): void {
  const type = res.headers.get('content-type') ?? '';
  assert.doesNotMatch(type, /html/i, `answered with HTML: ${res.describe}`);
  assert.doesNotMatch(res.text.trimStart().slice(0, 20), /^</, `body looks like markup: ${res.describe}`);
}

describe('authentication', () => {
  test('a request without Authorization is refused with 401 SCIM JSON and a WWW-Authenticate challenge', async () => {
    const res = await scim.get('/Users', { token: null });
    assertScimError(res, 401);
    // RFC 7235 §3.1: a 401 response MUST carry WWW-Authenticate.
    assert.ok(res.headers.get('www-authenticate'), `401 without WWW-Authenticate: ${res.describe}`);
  });

  test('every Users method without a token is refused with 401, before any lookup', async () => {
    const id = '2819c223-7f76-453a-919d-413861904646';
    for (const [method, p, body] of [
      ['GET', `/Users/${id}`, undefined],
      ['POST', '/Users', userBody(uniqueEmail())],
      ['PUT', `/Users/${id}`, userBody(uniqueEmail())],
      ['PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] }],
      ['DELETE', `/Users/${id}`, undefined],
      ['POST', '/Users/.search', { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'] }],
    ] as const) {
      const res = await scim.request(method, p, { token: null, body });
      assertScimError(res, 401);
    }
  });

  test('"Authorization: Bearer <token>" is accepted', async () => {
    const res = await scim.get('/Users?count=1');
    assertStatus(res, 200);
    assertScimJson(res);
    assert.deepEqual(res.body.schemas, [LIST_SCHEMA]);
  });

  test('a bare token in Authorization (Okta "HTTP Header" option) is accepted', async () => {
    const res = await scim.get('/Users?count=1', { token: null, headers: { authorization: scim.token } });
    assertStatus(res, 200);
  });

  test('the Bearer scheme name is matched without regard to case (RFC 7235 §2.1)', async () => {
    const res = await scim.get('/Users?count=1', { token: null, headers: { authorization: `bearer ${scim.token}` } });
    assertStatus(res, 200);
  });

  test('Basic credentials carrying the token as the password are accepted (DESIGN: Okta Basic-auth option)', async () => {
    const basic = Buffer.from(`okta:${scim.token}`).toString('base64');
    const res = await scim.get('/Users?count=1', { token: null, headers: { authorization: `Basic ${basic}` } });
    assertStatus(res, 200);
  });

  test('an unknown token is refused with 401 SCIM JSON', async () => {
    const res = await scim.get('/Users', { token: 'plmscim_this-token-was-never-issued' });
    assertScimError(res, 401);
  });

  test('a revoked token is refused with 401 while the other live token of the same organization still works', async () => {
    const { orgId: id, token: live } = await server.createOrg({ name: 'rotation' });
    const old = await issueToken(server.server.store.db, id);
    assertStatus(await scim.get('/Users?count=1', { token: old.token }), 200);
    assert.equal(await revokeToken(server.server.store.db, old.id), true);
    assertScimError(await scim.get('/Users?count=1', { token: old.token }), 401);
    assertStatus(await scim.get('/Users?count=1', { token: live }), 200);
  });

  test('the token alone selects the organization: two orgs on one base URL see their own users', async () => {
    const a = await server.createOrg({ name: 'select-a' });
    const b = await server.createOrg({ name: 'select-b' });
    const email = uniqueEmail('selected');
    assertStatus(await scim.post('/Users', userBody(email), { token: a.token }), 201);
    const inA = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`, { token: a.token });
    const inB = await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${email}"`)}`, { token: b.token });
    assert.equal(inA.body.totalResults, 1, inA.describe);
    assert.equal(inB.body.totalResults, 0, inB.describe);
  });

  test('an organization with provisioning off gets 403 saying provisioning is not enabled and to contact Plumm support', async () => {
    const off = await server.createOrg({ name: 'not-enabled', provisioning: false });
    for (const res of [
      await scim.get('/Users', { token: off.token }),
      await scim.post('/Users', userBody(uniqueEmail()), { token: off.token }),
    ]) {
      assertScimError(res, 403, undefined, /provisioning is not enabled/i);
      assert.match(res.body.detail, /contact Plumm support/i, res.describe);
    }
  });
});

describe('content types and bodies', () => {
  test('a successful answer is application/scim+json (RFC 7644 §3.1, §8.1)', async () => {
    const res = await scim.post('/Users', userBody(uniqueEmail()));
    assertStatus(res, 201);
    assertScimJson(res);
  });

  for (const contentType of ['application/json; charset=UTF-8', 'APPLICATION/SCIM+JSON', 'application/scim+json; charset=utf-8', 'application/json']) {
    test(`a body sent as "${contentType}" is accepted`, async () => {
      const res = await scim.post('/Users', userBody(uniqueEmail()), { contentType });
      assertStatus(res, 201);
      assertScimJson(res);
    });
  }

  test('a body sent as text/xml is refused with 415 SCIM JSON', async () => {
    const res = await scim.request('POST', '/Users', {
      rawBody: '<?xml version="1.0"?><User><userName>x@example.com</userName></User>',
      contentType: 'text/xml',
    });
    assertScimError(res, 415);
  });

  test('a form-encoded body is refused with 415 SCIM JSON', async () => {
    const res = await scim.request('POST', '/Users', { rawBody: 'userName=x%40example.com', contentType: 'application/x-www-form-urlencoded' });
    assertScimError(res, 415);
  });

  test('malformed JSON is refused with 400 invalidSyntax (RFC 7644 §3.12)', async () => {
    const res = await scim.request('POST', '/Users', { rawBody: '{"userName": "x@example.com",' });
    assertScimError(res, 400, 'invalidSyntax');
  });

  test('malformed JSON in a PATCH is refused with 400 invalidSyntax', async () => {
    const created = await scim.post('/Users', userBody(uniqueEmail()));
    assertStatus(created, 201);
    const res = await scim.request('PATCH', `/Users/${created.body.id}`, { rawBody: '{"Operations": [ {"op": "replace", ' });
    assertScimError(res, 400, 'invalidSyntax');
  });

  test('a JSON body that is not an object is refused with 400 invalidSyntax', async () => {
    const res = await scim.request('POST', '/Users', { rawBody: '["not", "an", "object"]' });
    assertScimError(res, 400, 'invalidSyntax');
  });

  test('a body over 1 MiB is refused with 413 SCIM JSON', async () => {
    const big = userBody(uniqueEmail(), { nickName: 'x'.repeat(1024 * 1024 + 16) });
    const res = await scim.post('/Users', big);
    assertScimError(res, 413);
  });
});

describe('routing', () => {
  test('an unknown route under /scim/v2 answers 404 SCIM JSON', async () => {
    assertScimError(await scim.get('/NoSuchEndpoint'), 404);
  });

  test('an unknown route outside /scim/v2 answers 404 SCIM JSON', async () => {
    assertScimError(await send(`${server.baseUrl}/wp-admin/index.php`, { method: 'GET' }), 404);
  });

  test('an unknown user id answers 404 SCIM JSON (RFC 7644 §3.12)', async () => {
    assertScimError(await scim.get('/Users/00000000-0000-4000-8000-000000000000'), 404);
  });

  for (const [method, p, allowed] of [
    ['DELETE', '/Users', ['GET', 'POST']],
    ['PUT', '/Users', ['GET', 'POST']],
    ['PATCH', '/Users', ['GET', 'POST']],
    ['POST', '/Users/00000000-0000-4000-8000-000000000000', ['GET', 'PUT', 'PATCH', 'DELETE']],
    ['GET', '/Users/.search', ['POST']],
    ['PATCH', '/ServiceProviderConfig', ['GET']],
    ['DELETE', '/Schemas', ['GET']],
  ] as const) {
    test(`${method} ${p} answers 405 SCIM JSON with an Allow header (RFC 7231 §6.5.5)`, async () => {
      const res = await scim.request(method, p, { body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      assertScimError(res, 405);
      const allow = (res.headers.get('allow') ?? '').toUpperCase();
      for (const m of allowed) assert.ok(allow.includes(m), `Allow should list ${m}: "${allow}" ${res.describe}`);
    });
  }

  test('no answer is ever HTML, whatever is asked', async () => {
    const probes: [string, string, Record<string, string>?][] = [
      ['GET', `${server.baseUrl}/`],
      ['GET', `${server.baseUrl}/scim`],
      ['GET', `${server.baseUrl}/scim/v2`],
      ['GET', `${server.baseUrl}/scim/v2/Users?filter=%E0%A4%A`],
      ['GET', `${server.baseUrl}/scim/v2/Users`, { accept: 'text/html' }],
      ['GET', `${server.baseUrl}/scim/v2/Users`, { accept: 'text/html', authorization: `Bearer ${scim.token}` }],
      ['OPTIONS', `${server.baseUrl}/scim/v2/Users`],
      ['TRACE', `${server.baseUrl}/scim/v2/Users`],
      ['GET', `${server.baseUrl}/scim/v2/${'a'.repeat(5000)}`],
    ];
    for (const [method, url, headers] of probes) {
      let res: ScimResponse;
      try {
        res = await send(url, { method, headers });
      } catch (err) {
        // fetch itself refuses TRACE; nothing was answered, so nothing was HTML.
        if (method === 'TRACE') continue;
        throw err;
      }
      assertNotHtml(res);
      // PRODUCT.md: every error, whatever its cause, is SCIM JSON.
      if (res.status >= 400) assertScimError(res, res.status);
    }
  });

  test('a path with a broken percent-escape answers 400 SCIM JSON, not the framework\'s own error body', async () => {
    const res = await send(`${server.scimUrl}/Users/%E0%A4%A`, { method: 'GET', headers: { authorization: `Bearer ${scim.token}` } });
    assertScimError(res, 400);
  });
});

describe('discovery (RFC 7643 §5–7, RFC 7644 §4)', () => {
  test('ServiceProviderConfig states patch, filter with maxResults, sort and etag supported, bulk not', async () => {
    const res = await scim.get('/ServiceProviderConfig');
    assertStatus(res, 200);
    assertScimJson(res);
    const spc = res.body;
    assert.deepEqual(spc.schemas, [SPC_SCHEMA]);
    assert.equal(spc.patch?.supported, true);
    assert.equal(spc.bulk?.supported, false);
    assert.equal(spc.filter?.supported, true);
    assert.equal(typeof spc.filter?.maxResults, 'number');
    assert.ok(spc.filter.maxResults > 0);
    assert.equal(spc.sort?.supported, true);
    assert.equal(spc.etag?.supported, true);
    assert.equal(typeof spc.changePassword?.supported, 'boolean', 'changePassword is REQUIRED (RFC 7643 §5)');
    assert.ok(Array.isArray(spc.authenticationSchemes) && spc.authenticationSchemes.length > 0, 'authenticationSchemes is REQUIRED');
    for (const scheme of spc.authenticationSchemes) {
      for (const key of ['type', 'name', 'description']) assert.equal(typeof scheme[key], 'string', `authenticationSchemes[].${key}`);
    }
  });

  test('ResourceTypes lists User with its endpoint, core schema and the enterprise extension', async () => {
    const res = await scim.get('/ResourceTypes');
    assertStatus(res, 200);
    assertScimJson(res);
    const types = Array.isArray(res.body) ? res.body : res.body.Resources;
    assert.ok(Array.isArray(types), res.describe);
    const user = types.find((t: { name?: string }) => t.name === 'User');
    assert.ok(user, `no User resource type: ${res.describe}`);
    assert.deepEqual(user.schemas, [RESOURCE_TYPE_SCHEMA]);
    assert.equal(user.endpoint, '/Users');
    assert.equal(user.schema, USER_SCHEMA);
    const ext = (user.schemaExtensions ?? []).find((e: { schema: string }) => e.schema === ENTERPRISE_SCHEMA);
    assert.ok(ext, 'schemaExtensions should list the enterprise extension');
    assert.equal(typeof ext.required, 'boolean');
  });

  test('ResourceTypes/User answers the single resource type', async () => {
    const res = await scim.get('/ResourceTypes/User');
    assertStatus(res, 200);
    assert.equal(res.body.name, 'User');
    assert.equal(res.body.endpoint, '/Users');
  });

  test('Schemas lists the User and enterprise schemas with full attribute characteristics (RFC 7643 §7)', async () => {
    const res = await scim.get('/Schemas');
    assertStatus(res, 200);
    assertScimJson(res);
    const schemas = Array.isArray(res.body) ? res.body : res.body.Resources;
    const user = schemas.find((s: { id: string }) => s.id === USER_SCHEMA);
    const ent = schemas.find((s: { id: string }) => s.id === ENTERPRISE_SCHEMA);
    assert.ok(user, 'User schema missing');
    assert.ok(ent, 'enterprise schema missing');
    assert.deepEqual(user.schemas, [SCHEMA_SCHEMA]);
    const check = (a: Record<string, unknown>, where: string) => {
      for (const key of ['name', 'type', 'mutability', 'returned']) assert.equal(typeof a[key], 'string', `${where}.${key}`);
      for (const key of ['multiValued', 'required']) assert.equal(typeof a[key], 'boolean', `${where}.${key}`);
      if (a.type === 'string' || a.type === 'reference') assert.equal(typeof a.caseExact, 'boolean', `${where}.caseExact`);
      if (a.type === 'complex') {
        assert.ok(Array.isArray(a.subAttributes), `${where}.subAttributes`);
        for (const s of a.subAttributes as Record<string, unknown>[]) check(s, `${where}.${s.name}`);
      }
    };
    for (const a of user.attributes) check(a, a.name);
    const userName = user.attributes.find((a: { name: string }) => a.name === 'userName');
    assert.equal(userName.required, true);
    assert.equal(userName.uniqueness, 'server');
    const password = user.attributes.find((a: { name: string }) => a.name === 'password');
    assert.equal(password.returned, 'never');
    assert.equal(password.mutability, 'writeOnly');
    assert.ok(ent.attributes.some((a: { name: string }) => a.name === 'manager'));
  });

  test('Schemas/<urn> answers one schema; an unknown one answers 404 SCIM JSON', async () => {
    const res = await scim.get(`/Schemas/${USER_SCHEMA}`);
    assertStatus(res, 200);
    assert.equal(res.body.id, USER_SCHEMA);
    assertScimError(await scim.get('/Schemas/urn:example:nope'), 404);
  });
});

describe('request ids', () => {
  test('every answer carries an X-Request-Id, a fresh one per request', async () => {
    const a = await scim.get('/Users?count=1');
    const b = await scim.get('/Users?count=1');
    const ida = a.headers.get('x-request-id');
    const idb = b.headers.get('x-request-id');
    assert.ok(ida && idb, 'X-Request-Id missing');
    assert.notEqual(ida, idb);
  });

  test('a given X-Request-Id is reused, on success and on error', async () => {
    const ok = await scim.get('/Users?count=1', { headers: { 'x-request-id': 'okta-7f3c2e91-req' } });
    assert.equal(ok.headers.get('x-request-id'), 'okta-7f3c2e91-req');
    const err = await scim.get('/Users', { token: 'wrong', headers: { 'x-request-id': 'entra-0b9e-req' } });
    assertScimError(err, 401);
    assert.equal(err.headers.get('x-request-id'), 'entra-0b9e-req');
  });
});
