/**
 * HTTP fuzzing: more than 5,000 seeded malformed requests over keep-alive
 * connections (an undici Pool of 10, 10 requests in flight). Every answer must
 * be a 2xx (valid by chance) or a 4xx, never a 5xx; carry the SCIM content
 * type (application/json under /admin); have a JSON body; and the server must
 * still answer at the end.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import net from 'node:net';
import fc from 'fast-check';
import { Pool } from 'undici';
import { type TestServer, startTestServer } from '../support/server.js';
import { ERROR_SCHEMA, PATCH_SCHEMA, USER_SCHEMA } from '../support/http.js';
import { FILTER_WORDS, SEED, hostileJson, jsonMutations, mutateJson, mutateString, stringMutations } from './support.js';

const REQUESTS = 5_200;
const CONCURRENCY = 10;

interface FuzzRequest {
  category: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Placeholders filled once the server is up. */
interface Targets {
  token: string;
  userId: string;
  groupId: string;
  userName: string;
}

const ID = '{{userId}}';
const GID = '{{groupId}}';
const RESOURCE_PATHS = ['/Users', '/Groups', `/Users/${ID}`, `/Groups/${GID}`, '/Users/.search', '/Groups/.search', '/ServiceProviderConfig', '/Schemas', '/ResourceTypes/User', '/Bulk', '/Me'];
const WRITE_METHODS = ['POST', 'PUT', 'PATCH'];

const validUser = (n: number) => ({
  schemas: [USER_SCHEMA],
  userName: `fuzz.${n}@example.com`,
  name: { givenName: 'F', familyName: 'Uzz' },
  emails: [{ value: `fuzz.${n}@example.com`, primary: true, type: 'work' }],
  active: true,
});
const VALID_BODIES = [
  validUser(0),
  { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Fuzz group', members: [{ value: ID }] },
  { schemas: [PATCH_SCHEMA], Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] },
  { schemas: [PATCH_SCHEMA], Operations: [{ op: 'add', path: 'members', value: [{ value: ID }] }] },
  { schemas: [PATCH_SCHEMA], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] },
  { schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], filter: 'userName sw "fuzz"', count: 5 },
];

const scimPath = fc.constantFrom(...RESOURCE_PATHS);
const writeMethod = fc.constantFrom(...WRITE_METHODS);
const json = (v: unknown) => JSON.stringify(v) ?? 'null';

/** Percent-encodes UTF-8 bytes (lone surrogates become U+FFFD, where encodeURIComponent would throw). */
function pct(s: string, keep: RegExp = /[A-Za-z0-9._~-]/): string {
  let out = '';
  for (const ch of s) {
    if (keep.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const badJson: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: writeMethod,
    path: scimPath,
    body: fc.oneof(
      fc.constantFrom('{', '}', '{"a":}', "{'userName':'x'}", '{"a":1,}', '[1,2', 'NaN', 'undefined', '{"a":1}{"b":2}', '\uFEFF{"a":1}', 'nul', '"\\u12"', '{"a":"\\x"}', '1e999999', '-', '{"__proto__":'),
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom(...VALID_BODIES).chain((b) => fc.nat().map((n) => json(b).slice(0, n % json(b).length))), // truncated
      fc.constantFrom(...VALID_BODIES).chain((b) => stringMutations.map((ms) => mutateString(json(b), ms))),
    ),
  })
  .map((r): FuzzRequest => ({ category: 'bad JSON', ...r, headers: { 'content-type': 'application/scim+json' } }));

const invalidUtf8: fc.Arbitrary<FuzzRequest> = fc
  .record({ method: writeMethod, path: scimPath, bytes: fc.uint8Array({ minLength: 1, maxLength: 200 }) })
  .map((r): FuzzRequest => ({ category: 'binary body', method: r.method, path: r.path, headers: { 'content-type': 'application/json' }, body: Buffer.concat([Buffer.from('{"userName":"'), Buffer.from(r.bytes), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]) }));

const deepNesting: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: writeMethod,
    path: scimPath,
    depth: fc.constantFrom(31, 32, 33, 64, 1_000, 100_000),
    shape: fc.constantFrom('[', '{"a":', '{"Operations":[', '{"value":['),
    closed: fc.boolean(),
  })
  .map((r): FuzzRequest => {
    const open = r.shape.repeat(r.depth);
    const close = r.closed ? [...r.shape].filter((c) => c === '[' || c === '{').map((c) => (c === '[' ? ']' : '}')).reverse().join('').repeat(r.depth) : '';
    return { category: 'deep nesting', method: r.method, path: r.path, headers: { 'content-type': 'application/scim+json' }, body: `${open}1${close}` };
  });

const hugeStrings: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: writeMethod,
    path: scimPath,
    size: fc.constantFrom(1_000, 100_000, 600_000),
    where: fc.constantFrom('userName', 'displayName', 'key', 'emails', 'oversize'),
  })
  .map((r): FuzzRequest => {
    let doc: unknown;
    const big = 'x'.repeat(r.size);
    if (r.where === 'userName') doc = { ...validUser(1), userName: `${big}@example.com` };
    else if (r.where === 'displayName') doc = { ...validUser(2), displayName: big };
    else if (r.where === 'key') doc = { ...validUser(3), [big]: 1 };
    else if (r.where === 'emails') doc = { ...validUser(4), emails: Array.from({ length: r.size / 100 }, (_, i) => ({ value: `e${i}@example.com` })) };
    else doc = { ...validUser(5), displayName: 'y'.repeat(1024 * 1024 + 10) }; // over the 1 MiB body limit
    return { category: 'huge strings', method: r.method, path: r.path, headers: { 'content-type': 'application/scim+json' }, body: JSON.stringify(doc) };
  });

const filterSeeds = ['userName eq "a@b.c"', 'emails[type eq "work" and value co "x"]', 'not (active eq true)', 'meta.lastModified gt "2020-01-01T00:00:00Z"', 'members.value eq "x"', 'displayName sw "F"'];
const badFilters: fc.Arbitrary<FuzzRequest> = fc
  .record({
    path: fc.constantFrom('/Users', '/Groups'),
    param: fc.constantFrom('filter', 'filter', 'filter', 'sortBy', 'attributes', 'excludedAttributes', 'startIndex', 'count', 'sortOrder'),
    value: fc.oneof(
      fc.constantFrom(...filterSeeds).chain((f) => stringMutations.map((ms) => mutateString(f, ms))),
      fc.constantFrom(...FILTER_WORDS),
      fc.constantFrom('('.repeat(70) + 'a pr' + ')'.repeat(70), 'a eq 1 and '.repeat(500) + 'b pr', 'x'.repeat(5_000), Array(150).fill('userName').join(','), '-1', '1e400', 'NaN', '9'.repeat(400)),
      fc.string({ unit: 'binary', maxLength: 40 }),
    ),
    rawEncoding: fc.boolean(),
    search: fc.boolean(),
  })
  .map((r): FuzzRequest => {
    if (r.search) {
      return { category: 'bad filters', method: 'POST', path: `${r.path}/.search`, headers: { 'content-type': 'application/scim+json' }, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], [r.param]: r.value }) };
    }
    // Raw: only the characters a client could put on a request line unencoded.
    const v = r.rawEncoding ? pct(r.value, /[\x21-\x22\x24-\x7e]/) : pct(r.value);
    return { category: 'bad filters', method: 'GET', path: `${r.path}?${r.param}=${v}`, headers: {} };
  });

const patchSeeds = VALID_BODIES.filter((b) => 'Operations' in b);
const badPatch: fc.Arbitrary<FuzzRequest> = fc
  .record({
    path: fc.constantFrom(`/Users/${ID}`, `/Groups/${GID}`),
    body: fc.oneof(
      fc.constantFrom(...patchSeeds).chain((b) => jsonMutations.map((ms) => mutateJson(b, ms))),
      fc.array(fc.record({ op: fc.oneof(fc.constantFrom('add', 'remove', 'replace', 'move', 'Add'), hostileJson), path: fc.oneof(fc.constantFrom('members', 'emails[type eq "work"].value', 'name.givenName', 'userName', 'id', 'members[value eq "x"]', 'urn:acme:1:User:__proto__'), hostileJson), value: hostileJson }), { maxLength: 3 }).map((Operations) => ({ schemas: [PATCH_SCHEMA], Operations })),
    ),
  })
  .map((r): FuzzRequest => ({ category: 'bad PATCH', method: 'PATCH', path: r.path, headers: { 'content-type': 'application/scim+json' }, body: JSON.stringify(r.body) ?? '' }));

const oddMethods: fc.Arbitrary<FuzzRequest> = fc
  .record({ method: fc.constantFrom('PROPFIND', 'PROPPATCH', 'TRACE', 'OPTIONS', 'HEAD', 'MKCOL', 'LOCK', 'UNLOCK', 'COPY', 'MOVE', 'SEARCH', 'PURGE', 'REPORT', 'LINK', 'UNLINK', 'DELETE', 'PUT'), path: scimPath, withBody: fc.boolean() })
  .map((r): FuzzRequest => ({
    category: 'odd methods',
    method: r.method,
    path: r.path,
    headers: r.withBody ? { 'content-type': 'application/scim+json' } : {},
    body: r.withBody && r.method !== 'HEAD' && r.method !== 'TRACE' ? json(VALID_BODIES[0]) : undefined,
  }));

const oddContentTypes: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: writeMethod,
    path: scimPath,
    type: fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'application/json; charset=utf-16',
      'application/scim+json;;;', 'APPLICATION/JSON', '*/*', 'application/json'.padEnd(4_000, ';'), 'application/jsonp', 'application/merge-patch+json', 'text/html; charset=utf-8', 'application/scim+json; charset="'),
    body: fc.constantFrom(json(VALID_BODIES[0]), '<user/>', 'userName=a', '', json(VALID_BODIES[2])),
  })
  .map((r): FuzzRequest => ({ category: 'odd content types', method: r.method, path: r.path, headers: { 'content-type': r.type }, body: r.body }));

const traversal: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE'),
    kind: fc.constantFrom('Users', 'Groups'),
    id: fc.oneof(
      fc.constantFrom('..%2f..%2fetc%2fpasswd', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e', '..', '.', '%00', `${ID}%00`, `${ID}%00.json`, '%', '%zz', '%c0%ae%c0%ae', '%ef%bf%bf', '%F0%9F%92%A9',
        "'%20OR%201=1--", '%22%3E%3Cscript%3E', 'a'.repeat(501), 'a'.repeat(5_000), `${ID}/../${GID}`, `${ID}/extra`, `${ID}?attributes=%00`, `${ID};jsessionid=1`, '..;', '%5c..%5c', 'NUL', 'con'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).map((x) => pct(x)),
    ),
  })
  .map((r): FuzzRequest => ({
    category: 'traversal ids',
    method: r.method,
    path: `/${r.kind}/${r.id}`,
    headers: r.method === 'PUT' || r.method === 'PATCH' ? { 'content-type': 'application/scim+json' } : {},
    body: r.method === 'PUT' ? json(VALID_BODIES[0]) : r.method === 'PATCH' ? json(VALID_BODIES[2]) : undefined,
  }));

const rawPaths: fc.Arbitrary<FuzzRequest> = fc
  .constantFrom('/scim/v2/../admin/api/organizations', '//scim/v2/Users', '/scim/v2//Users', '/scim/v2/Users/', '/SCIM/V2/USERS', '/scim/v2', '/scim', '/', '/admin/api/organizations',
    '/admin/api/organizations/x/events', '/healthz', '/scim/v2/Users?', '/scim/v2/Users?&&&=&', '/scim/v2/Users?filter', '/scim/v2/Users?filter=a&filter=b', '/scim/v2/Users?count[]=1',
    '/scim/v2/Users?__proto__[polluted]=1', '/scim/v2/Users?constructor[prototype][polluted]=1', '/scim/v2/%2e%2e/%2e%2e/admin', '/.env', '/scim/v2/Users#frag', '/scim/v2/Users%20', '/scim/v2/Users%00')
  .map((p) => ({ category: 'raw paths', method: 'GET', path: `RAW${p}`, headers: {} }));

const oddHeaders: fc.Arbitrary<FuzzRequest> = fc
  .record({
    path: scimPath,
    header: fc.constantFrom('authorization', 'x-request-id', 'if-match', 'if-none-match', 'accept', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'accept-encoding', 'range', 'expect-ct', 'origin', 'cookie'),
    value: fc.oneof(
      fc.constantFrom('Bearer', 'Bearer ', 'Basic', 'Basic !!!', 'Basic ' + Buffer.from(':').toString('base64'), 'Negotiate abc', 'bearer plmscim_x', 'Bearer a b c', 'Token ', '*', 'W/"', '"', 'W/"1", *',
        'x'.repeat(8_000), '../../etc/passwd', 'text/html', 'unknown, 127.0.0.1', 'javascript', 'evil.example:99999', 'bytes=0-1', '$(reboot)', '\u00e9', 'null', '0', '-1'),
      fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '?').trim()),
    ),
  })
  .map((r): FuzzRequest => ({ category: 'odd headers', method: 'GET', path: r.path, headers: { [r.header]: r.value } }));

const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { arbitrary: badJson, weight: 3 },
  { arbitrary: invalidUtf8, weight: 1 },
  { arbitrary: deepNesting, weight: 1 },
  { arbitrary: hugeStrings, weight: 1 },
  { arbitrary: badFilters, weight: 3 },
  { arbitrary: badPatch, weight: 3 },
  { arbitrary: oddMethods, weight: 1 },
  { arbitrary: oddContentTypes, weight: 2 },
  { arbitrary: traversal, weight: 2 },
  { arbitrary: rawPaths, weight: 1 },
  { arbitrary: oddHeaders, weight: 2 },
);

function fill(text: string, t: Targets): string {
  return text.split(ID).join(t.userId).split(GID).join(t.groupId);
}

function finalPath(r: FuzzRequest, t: Targets): string {
  if (r.path.startsWith('RAW')) return fill(r.path.slice(3), t);
  return `/scim/v2${fill(r.path, t)}`;
}

describe('HTTP fuzzing', () => {
  let server: TestServer;
  let pool: Pool;
  let targets: Targets;

  before(async () => {
    server = await startTestServer({ SCIM_RATE_LIMIT_PER_MINUTE: '100000000' });
    const { token } = await server.createOrg({ name: 'Fuzz org' });
    const post = async (p: string, body: unknown) => {
      const res = await fetch(`${server.scimUrl}${p}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, body: JSON.stringify(body) });
      assert.equal(res.status, 201);
      return ((await res.json()) as { id: string }).id;
    };
    const userId = await post('/Users', validUser(999_999));
    const groupId = await post('/Groups', { displayName: 'Fuzz target group', members: [{ value: userId }] });
    targets = { token, userId, groupId, userName: 'fuzz.999999@example.com' };
    pool = new Pool(server.baseUrl, { connections: CONCURRENCY, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
  });
  after(async () => {
    await pool?.close();
    await server?.close();
  });

  test(`${REQUESTS} seeded malformed requests: never a 5xx, always JSON with the right content type`, async (t) => {
    const requests = fc.sample(request, { seed: SEED, numRuns: REQUESTS });
    const byCategory = new Map<string, Map<number, number>>();
    const failures: string[] = [];
    let next = 0;
    let sent = 0;

    async function worker() {
      while (next < requests.length) {
        const r = requests[next++];
        const path = finalPath(r, targets);
        const headers: Record<string, string> = { authorization: `Bearer ${targets.token}`, accept: 'application/scim+json' };
        for (const [k, v] of Object.entries(r.headers)) headers[k] = fill(v, targets);
        const body = typeof r.body === 'string' ? fill(r.body, targets) : r.body;
        const what = `[${r.category}] ${r.method} ${path.slice(0, 200)} ${JSON.stringify(r.headers).slice(0, 200)} ${body === undefined ? '' : String(body).slice(0, 200)}`;
        let status: number;
        let type: string;
        let text: string;
        try {
          const res = await pool.request({ method: r.method, path, headers, body });
          status = res.statusCode;
          type = String(res.headers['content-type'] ?? '');
          text = await res.body.text();
        } catch (err) {
          // The client refusing to send a request (an invalid header) is not the server's doing.
          const code = (err as { code?: string }).code ?? '';
          if (code === 'UND_ERR_INVALID_ARG' || code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_ARG_VALUE') continue;
          failures.push(`${what} -> transport error ${code} ${(err as Error).message}`);
          continue;
        }
        sent++;
        const counts = byCategory.get(r.category) ?? new Map<number, number>();
        counts.set(status, (counts.get(status) ?? 0) + 1);
        byCategory.set(r.category, counts);
        const problems: string[] = [];
        const pathname = path.split('?')[0];
        // RFC 7644 §3.11 (and the advertised bulk.supported false): /Me and /Bulk answer 501 on purpose.
        const unsupported = status === 501 && /^\/scim\/v2\/(Me|Bulk)$/i.test(pathname);
        if ((status >= 500 && !unsupported) || status < 200) problems.push(`status ${status}`);
        const noBody = status === 204 || status === 304 || r.method === 'HEAD';
        if (!noBody) {
          const wanted = pathname.startsWith('/admin/') || pathname === '/healthz' ? /^application\/json/i : /^application\/scim\+json/i;
          if (!wanted.test(type)) problems.push(`content-type ${JSON.stringify(type)}`);
          let parsed: { schemas?: unknown; status?: unknown } | undefined;
          try {
            parsed = JSON.parse(text);
          } catch {
            problems.push('body is not JSON');
          }
          if (parsed && status >= 400 && (JSON.stringify(parsed.schemas) !== JSON.stringify([ERROR_SCHEMA]) || parsed.status !== String(status))) {
            problems.push('not a SCIM error body');
          }
        }
        if (problems.length > 0) failures.push(`${what} -> ${status} ${type} ${text.slice(0, 300)}: ${problems.join(', ')}`);
      }
    }

    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const summary = [...byCategory].map(([c, m]) => `${c}: ${[...m].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
    t.diagnostic(`sent ${sent} of ${requests.length}\n${summary.join('\n')}`);
    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} bad answers; first ones listed`);
    assert.ok(sent >= 5_000, `at least 5,000 requests reached the server (${sent})`);
    assert.ok(byCategory.size >= 11, `every category was sent: ${[...byCategory.keys()]}`);
  });

  test('the server is still up and its data intact', async () => {
    const spc = await fetch(`${server.scimUrl}/ServiceProviderConfig`);
    assert.equal(spc.status, 200);
    await spc.arrayBuffer();
    const user = await fetch(`${server.scimUrl}/Users/${targets.userId}`, { headers: { authorization: `Bearer ${targets.token}` } });
    // A lucky DELETE may have removed the target; anything else is a broken store.
    assert.ok(user.status === 200 || user.status === 404, `GET target user -> ${user.status}`);
    await user.arrayBuffer();
  });

  // frameworkErrors (app.ts) answers every malformed URL with the SCIM type,
  // while the error handler gives /admin/ paths application/json.
  test('a malformed URL under /admin answers application/json, like every other /admin error', async () => {
    const res = await pool.request({ method: 'GET', path: '/admin/api/%', headers: {} });
    const text = await res.body.text();
    assert.equal(res.statusCode, 400, text);
    assert.match(String(res.headers['content-type']), /^application\/json/, `GET /admin/api/% -> ${res.statusCode} ${res.headers['content-type']} ${text}`);
  });

  // Below the router: requests that Node's HTTP parser refuses never reach
  // Fastify's error handler, so they get Fastify's default client-error body.
  test('malformed HTTP (unknown method, oversized headers) still answers SCIM JSON', async () => {
    const { port } = new URL(server.baseUrl);
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1');
        let data = '';
        socket.on('data', (c) => (data += c.toString('latin1')));
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.end(request);
      });
    const cases = {
      'unknown method': 'FOO /scim/v2/Users HTTP/1.1\r\nHost: x\r\n\r\n',
      'oversized header': `GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'x'.repeat(20_000)}\r\n\r\n`,
      'bad header line': 'GET /scim/v2/Users HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
    };
    const bad: string[] = [];
    for (const [name, req] of Object.entries(cases)) {
      const answer = await raw(req);
      const [head, body = ''] = answer.split('\r\n\r\n');
      const status = Number(head.split(' ')[1]);
      const type = /content-type:\s*([^\r\n]*)/i.exec(head)?.[1] ?? '';
      if (!(status >= 400 && status < 500)) bad.push(`${name}: status ${status}`);
      if (!/^application\/scim\+json/i.test(type)) bad.push(`${name}: content-type "${type}", body ${body.slice(0, 120)}`);
    }
    assert.deepEqual(bad, []);
  });
});
