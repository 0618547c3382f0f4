// plumm-scim doctor against the real server and stand-ins for what sits in
// front of it in the field (firewalls, login gateways, slow or sloppy servers).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { type TestServer, startTestServer } from '../support/server.js';
import { type CheckResult, type DoctorReport, detectFirewall, formatReport, parseRetryAfter, runDoctor } from '../../src/doctor/index.js';
import { doctorCommand } from '../../src/doctor/cli.js';

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const TOKEN = 'doctor-secret-token-5f1c0a9e7b';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface StandIn {
  url: string;
  requests: { method: string; url: string }[];
  close(): Promise<void>;
}

async function standIn(handler: Handler): Promise<StandIn> {
  const requests: { method: string; url: string }[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url! });
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

async function withStandIn<T>(handler: Handler, fn: (s: StandIn) => Promise<T>): Promise<T> {
  const s = await standIn(handler);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

function json(res: ServerResponse, status: number, body: unknown, type = 'application/scim+json') {
  res.writeHead(status, { 'content-type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** A minimal SCIM server good enough for the read checks; `list` shapes the ListResponses. */
function fakeScim(list: (path: string) => unknown = () => ({ schemas: [LIST], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] }), type?: string): Handler {
  return (req, res) => {
    const path = req.url!.replace(/^\/scim\/v2/, '');
    if (path.startsWith('/ServiceProviderConfig')) return json(res, 200, { schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'], patch: { supported: true } }, type);
    if (path.startsWith('/ResourceTypes')) return json(res, 200, { schemas: [LIST], totalResults: 1, Resources: [{ name: 'User' }] }, type);
    if (path.startsWith('/Schemas')) return json(res, 200, { schemas: [LIST], totalResults: 1, Resources: [{ id: 'urn:ietf:params:scim:schemas:core:2.0:User' }] }, type);
    return json(res, 200, list(path), type);
  };
}

const check = (report: DoctorReport, name: string): CheckResult => {
  const c = report.checks.find((x) => x.name === name);
  assert.ok(c, `no check named "${name}" in ${report.checks.map((x) => x.name).join(', ')}`);
  return c;
};
const credentials = (r: DoctorReport) => check(r, 'Test API credentials');

function assertNoToken(report: DoctorReport, token = TOKEN) {
  assert.ok(!JSON.stringify(report).includes(token), 'the token appears in the JSON report');
  assert.ok(!formatReport(report, { color: false }).includes(token), 'the token appears in the text report');
  assert.ok(!formatReport(report, { color: true }).includes(token), 'the token appears in the coloured report');
}

describe('against the real plumm-scim server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server?.close());

  test('every read check passes', async () => {
    const { token } = await server.createOrg();
    const report = await runDoctor({ baseUrl: server.scimUrl, token });
    assert.equal(report.ok, true, formatReport(report, { color: false }));
    assert.equal(report.baseUrl, server.scimUrl);
    for (const c of report.checks) {
      assert.equal(c.status, 'pass', `${c.name}: ${c.diagnosis}`);
      assert.equal(typeof c.latencyMs, 'number');
    }
    const names = report.checks.map((c) => c.name);
    assert.deepEqual(names, ['Test API credentials', 'Find user by userName', 'ServiceProviderConfig', 'ResourceTypes', 'Schemas', 'List users (import paging)', 'List groups']);
    assert.match(String(credentials(report).details?.request), /^GET \/Users\?startIndex=1&count=2$/);
    assert.match(String(check(report, 'Find user by userName').details?.request), /^GET \/Users\?filter=userName eq "plumm-doctor-[0-9a-f]+@example\.invalid"$/);
    assert.equal(check(report, 'List groups').details?.request, 'GET /Groups?startIndex=1&count=100&excludedAttributes=members');
    assertNoToken(report, token);
  });

  test('with write, every step passes and the test user and group are gone afterwards', async () => {
    const { token } = await server.createOrg();
    const report = await runDoctor({ baseUrl: `${server.scimUrl}/`, token, write: true });
    assert.equal(report.ok, true, formatReport(report, { color: false }));
    for (const c of report.checks) assert.equal(c.status, 'pass', `${c.name}: ${c.diagnosis}`);
    for (const name of ['Create test user', 'Read test user', 'Update name', 'Deactivate user', 'Reactivate user', 'Create test group', 'Delete test group', 'Delete test user']) check(report, name);
    assert.ok(!report.checks.some((c) => c.name === 'Clean up'), 'no clean-up is needed when every step passed');
    const userId = String(check(report, 'Create test user').details?.userId);
    const userName = String(check(report, 'Create test user').details?.userName);
    const groupId = String(check(report, 'Create test group').details?.groupId);
    assert.match(userName, /^plumm-doctor-[0-9a-f]+@example\.invalid$/);
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await fetch(`${server.scimUrl}/Users/${userId}`, { headers: auth })).status, 404);
    assert.equal((await fetch(`${server.scimUrl}/Groups/${groupId}`, { headers: auth })).status, 404);
    const users = await (await fetch(`${server.scimUrl}/Users?filter=${encodeURIComponent('userName sw "plumm-doctor"')}`, { headers: auth })).json();
    assert.equal(users.totalResults, 0);
    const groups = await (await fetch(`${server.scimUrl}/Groups`, { headers: auth })).json();
    assert.equal(groups.totalResults, 0);
    assertNoToken(report, token);
  });

  test('a base URL without /scim/v2 is tried as given, then with /scim/v2, and the IdP setting is flagged', async () => {
    const { token } = await server.createOrg();
    const report = await runDoctor({ baseUrl: server.baseUrl, token });
    assert.equal(report.ok, true, 'a warning does not fail the run');
    assert.equal(report.baseUrl, server.scimUrl);
    const base = check(report, 'Base URL');
    assert.equal(base.status, 'warn');
    assert.match(base.fix!, /\/scim\/v2 as the SCIM base URL/);
  });

  test('a base URL that is not the SCIM root gets the plumm-scim 404 diagnosis', async () => {
    const { token } = await server.createOrg();
    const report = await runDoctor({ baseUrl: `${server.baseUrl}/api`, token });
    const c = credentials(report);
    assert.equal(c.status, 'fail');
    assert.equal(c.details?.httpStatus, 404);
    assert.match(c.diagnosis!, /not the SCIM root/);
    assert.match(c.fix!, /ends in \/scim\/v2/);
  });

  test('a wrong token gets the 401 diagnosis: ask Plumm support for a new token, check the header', async () => {
    const report = await runDoctor({ baseUrl: server.scimUrl, token: TOKEN, write: true });
    assert.equal(report.ok, false);
    const c = credentials(report);
    assert.equal(c.status, 'fail');
    assert.equal(c.details?.httpStatus, 401);
    assert.match(c.diagnosis!, /401/);
    assert.match(c.diagnosis!, /wrong, was revoked/);
    assert.match(c.fix!, /Plumm support for a new API token/);
    assert.match(c.fix!, /Authorization: Bearer <token>/);
    assert.equal(check(report, 'Create test user').status, 'skip');
    assertNoToken(report);
  });

  test('provisioning off: the SCIM 403 is diagnosed as provisioning not enabled, contact Plumm support', async () => {
    const { token } = await server.createOrg({ provisioning: false });
    const report = await runDoctor({ baseUrl: server.scimUrl, token });
    const c = credentials(report);
    assert.equal(c.status, 'fail');
    assert.equal(c.details?.httpStatus, 403);
    assert.match(c.diagnosis!, /provisioning is not enabled/i);
    assert.doesNotMatch(c.diagnosis!, /firewall/i);
    assert.match(c.fix!, /Contact Plumm support/);
    assert.equal(report.ok, false);
  });
});

describe('firewalls and gateways in front of the API', () => {
  const cloudflarePage = `<!DOCTYPE html>
<html><head><title>Attention Required! | Cloudflare</title></head>
<body><h1>Sorry, you have been blocked</h1><p>Cloudflare Ray ID: 7d2a1b3c4d5e6f70</p></body></html>`;

  test('an HTML 403 block page with Cloudflare headers is a firewall page, tied to Okta\'s "Unexpected character \'<\'"', async () => {
    await withStandIn(
      (req, res) => {
        res.writeHead(403, { 'content-type': 'text/html; charset=UTF-8', server: 'cloudflare', 'cf-ray': '7d2a1b3c4d5e6f70-AMS' });
        res.end(cloudflarePage);
      },
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN, write: true });
        assert.equal(report.ok, false);
        const c = credentials(report);
        assert.equal(c.status, 'fail');
        assert.equal(c.details?.firewall, 'Cloudflare');
        assert.equal(c.details?.httpStatus, 403);
        assert.match(c.diagnosis!, /HTML page/);
        assert.match(c.diagnosis!, /Cloudflare/);
        assert.match(c.diagnosis!, /Invalid JSON: Unexpected character '<'/);
        assert.match(c.fix!, /IP addresses/);
        assert.match(c.fix!, /\/scim\/v2 path/);
        const text = formatReport(report, { color: false });
        assert.match(text, /Same problem as "Test API credentials"/, 'repeated causes are not repeated in full');
        assert.ok(s.requests.every((r) => r.method === 'GET'), 'nothing is written when the credentials check fails');
      },
    );
  });

  test('a Cloudflare page is recognised from its body alone, and a bare HTML 403 as a generic firewall', async () => {
    await withStandIn(
      (req, res) => {
        res.writeHead(403, { 'content-type': 'text/html' });
        res.end(req.url!.includes('count=2') ? cloudflarePage : '<html><head><title>403 Forbidden</title></head><body>Forbidden</body></html>');
      },
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN });
        assert.equal(credentials(report).details?.firewall, 'Cloudflare');
        const generic = check(report, 'ServiceProviderConfig');
        assert.equal(generic.status, 'fail');
        assert.equal(generic.details?.firewall, undefined);
        assert.match(generic.diagnosis!, /web application firewall, CDN or proxy/);
        assert.match(generic.diagnosis!, /Unexpected character '<'/);
      },
    );
  });

  test('each known firewall is named from its headers or page', () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ 'x-sucuri-id': '18012' }, '', 'Sucuri WebSite Firewall'],
      [{ server: 'Sucuri/Cloudproxy' }, '', 'Sucuri WebSite Firewall'],
      [{}, '<title>Sucuri WebSite Firewall - Access Denied</title>', 'Sucuri WebSite Firewall'],
      [{ server: 'cloudflare' }, '', 'Cloudflare'],
      [{ 'cf-ray': '1-AMS' }, '', 'Cloudflare'],
      [{ server: 'AkamaiGHost' }, '', 'Akamai'],
      [{}, '<H1>Access Denied</H1> Reference #18.7d3e1602.1690000000.1a2b3c', 'Akamai'],
      [{ 'x-amzn-waf-action': 'block' }, '', 'AWS WAF / CloudFront'],
      [{ 'x-amz-cf-id': 'abc' }, '', 'AWS WAF / CloudFront'],
      [{}, '<H1>403 ERROR</H1><H2>The request could not be satisfied.</H2>', 'AWS WAF / CloudFront'],
      [{ 'x-iinfo': '1-2-3' }, '', 'Imperva Incapsula'],
      [{ 'x-cdn': 'Incapsula' }, '', 'Imperva Incapsula'],
      [{}, 'Request unsuccessful. Incapsula incident ID: 123-456', 'Imperva Incapsula'],
      [{}, '<title>Request Rejected</title>The requested URL was rejected. Please consult with your administrator.', 'F5 BIG-IP ASM'],
      [{}, 'This error was generated by Mod_Security.', 'ModSecurity'],
      [{}, '<title>Not Acceptable!</title><h1>Not Acceptable!</h1>', 'ModSecurity'],
    ];
    for (const [headers, body, name] of cases) assert.equal(detectFirewall(headers, body)?.name, name, JSON.stringify([headers, body]));
    assert.equal(detectFirewall({ server: 'nginx' }, '<html>Forbidden</html>'), undefined);
  });

  test('a 403 that is JSON but not a SCIM error comes from a gateway, not plumm-scim', async () => {
    await withStandIn(
      (req, res) => json(res, 403, { message: 'Forbidden' }, 'application/json'),
      async (s) => {
        const c = credentials(await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN }));
        assert.equal(c.status, 'fail');
        assert.match(c.diagnosis!, /403 that is not a SCIM error/);
        assert.match(c.fix!, /IP addresses/);
      },
    );
  });

  test('a redirect to a login page is reported, never followed', async () => {
    await withStandIn(
      (req, res) => {
        if (req.url!.startsWith('/login')) {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<form><input type="password" name="pw"></form>');
          return;
        }
        res.writeHead(302, { location: '/login?next=/scim/v2' });
        res.end();
      },
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN });
        const c = credentials(report);
        assert.equal(c.status, 'fail');
        assert.equal(c.details?.httpStatus, 302);
        assert.equal(c.details?.location, '/login?next=/scim/v2');
        assert.match(c.diagnosis!, /redirect to a sign-in page/);
        assert.match(c.fix!, /\/scim\/v2 path/);
        assert.ok(!s.requests.some((r) => r.url.startsWith('/login')), 'the redirect must not be followed');
      },
    );
  });

  test('an HTML login page answered directly (password form) is named as such', async () => {
    await withStandIn(
      (req, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><title>Sign in</title><form method="post"><input name="u"><input type="password" name="p"></form></html>');
      },
      async (s) => {
        const c = credentials(await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN }));
        assert.match(c.diagnosis!, /login page/);
        assert.match(c.diagnosis!, /Unexpected character '<'/);
      },
    );
  });

  test('the token never appears, even when a proxy echoes it back', async () => {
    await withStandIn(
      (req, res) => {
        res.writeHead(403, { 'content-type': 'text/html', 'x-echo': String(req.headers.authorization) });
        res.end(`<html><title>Blocked ${req.headers.authorization}</title>Your header: ${req.headers.authorization}</html>`);
      },
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN, write: true });
        assert.equal(report.ok, false);
        assertNoToken(report);
        const lines: string[] = [];
        await doctorCommand(`${s.url}/scim/v2`, { token: TOKEN, json: true }, { stdout: { write: (x: string) => lines.push(x) }, env: {} });
        assert.ok(!lines.join('').includes(TOKEN));
      },
    );
  });
});

describe('answers an identity provider cannot use', () => {
  test('counts sent as strings are diagnosed (Okta rejects them)', async () => {
    await withStandIn(
      fakeScim(() => ({ schemas: [LIST], totalResults: '1', startIndex: 1, itemsPerPage: 1, Resources: [{ id: '1', userName: 'a@example.com' }] })),
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN });
        const c = credentials(report);
        assert.equal(c.status, 'fail');
        assert.match(c.diagnosis!, /"totalResults" is the string "1", not a number \(Okta rejects counts sent as strings\)/);
        assert.equal(check(report, 'ServiceProviderConfig').status, 'pass');
        assert.equal(report.ok, false);
      },
    );
  });

  test('missing ListResponse fields are named', async () => {
    await withStandIn(
      fakeScim(() => ({ totalResults: 0 })),
      async (s) => {
        const c = credentials(await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN }));
        assert.equal(c.status, 'fail');
        for (const field of ['schemas', 'startIndex', 'itemsPerPage']) assert.match(c.diagnosis!, new RegExp(`"${field}" is missing`));
      },
    );
  });

  test('JSON with the wrong content type is diagnosed', async () => {
    await withStandIn(fakeScim(undefined, 'text/plain'), async (s) => {
      const c = credentials(await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN }));
      assert.equal(c.status, 'fail');
      assert.match(c.diagnosis!, /JSON but the Content-Type is "text\/plain"/);
      assert.match(c.fix!, /application\/scim\+json/);
    });
  });

  test('a filter that is ignored (totalResults not 0 for an unknown userName) fails', async () => {
    await withStandIn(
      fakeScim(() => ({ schemas: [LIST], totalResults: 1, startIndex: 1, itemsPerPage: 1, Resources: [{ id: '1' }] })),
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN });
        assert.equal(credentials(report).status, 'pass');
        const f = check(report, 'Find user by userName');
        assert.equal(f.status, 'fail');
        assert.match(f.diagnosis!, /instead of 0/);
      },
    );
  });

  test('429 reports the Retry-After wait and that Okta honours only whole seconds', async () => {
    await withStandIn(
      (req, res) => {
        res.writeHead(429, { 'content-type': 'application/scim+json', 'retry-after': req.url!.includes('count=2') ? '30' : '1.5' });
        res.end(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '429', detail: 'Too many requests' }));
      },
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN });
        const c = credentials(report);
        assert.equal(c.status, 'fail');
        assert.match(c.diagnosis!, /429/);
        assert.match(c.diagnosis!, /wait 30 s/);
        assert.equal(c.details?.waitSeconds, 30);
        const frac = check(report, 'ServiceProviderConfig');
        assert.match(frac.diagnosis!, /Okta honours only a whole number of seconds/);
      },
    );
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10);
  });
});

describe('time', () => {
  test('an answer slower than the timeout is a timeout failure', async () => {
    await withStandIn(
      (req, res) => setTimeout(() => fakeScim()(req, res, ''), 1500).unref(),
      async (s) => {
        const started = Date.now();
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN, timeoutMs: 300 });
        const c = credentials(report);
        assert.equal(c.status, 'fail');
        assert.equal(c.details?.errorCode, 'TIMEOUT');
        assert.match(c.diagnosis!, /No complete answer within 0\.3 s/);
        assert.match(c.diagnosis!, /Okta waits at most 60 s/);
        assert.ok(Date.now() - started < 5000, 'the run stops waiting at the timeout');
        assert.equal(report.ok, false);
      },
    );
  });

  test('an answer slower than slowMs but within the timeout is a warning, and warnings do not fail', async () => {
    await withStandIn(
      (req, res) => setTimeout(() => fakeScim()(req, res, ''), req.url!.includes('count=2') ? 250 : 0).unref(),
      async (s) => {
        const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN, timeoutMs: 3000, slowMs: 150 });
        const c = credentials(report);
        assert.equal(c.status, 'warn');
        assert.match(c.diagnosis!, /took 0\.\d s/);
        assert.match(c.diagnosis!, /Okta gives up after 60 s/);
        assert.ok(c.latencyMs! >= 200);
        assert.equal(check(report, 'Schemas').status, 'pass');
        assert.equal(report.ok, true);
      },
    );
  });
});

describe('network and TLS', () => {
  test('connection refused: diagnosed once, the rest skipped', async () => {
    const s = await standIn(() => undefined);
    const url = s.url;
    await s.close();
    const report = await runDoctor({ baseUrl: `${url}/scim/v2`, token: TOKEN, write: true });
    const c = credentials(report);
    assert.equal(c.status, 'fail');
    assert.equal(c.details?.errorCode, 'ECONNREFUSED');
    assert.match(c.diagnosis!, /Connection refused/);
    assert.ok(report.checks.filter((x) => x !== c).every((x) => x.status === 'skip'));
    assert.equal(report.ok, false);
    assertNoToken(report);
  });

  test('an unknown host name is a DNS failure', async () => {
    const report = await runDoctor({ baseUrl: 'http://plumm-doctor-test.invalid/scim/v2', token: TOKEN });
    const c = credentials(report);
    assert.equal(c.status, 'fail');
    assert.ok(['ENOTFOUND', 'EAI_AGAIN'].includes(String(c.details?.errorCode)), String(c.details?.errorCode));
    assert.match(c.diagnosis!, /DNS/);
  });

  test('a self-signed certificate is a TLS diagnosis', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'doctor-tls-'));
    try {
      try {
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      } catch {
        t.skip('openssl is not available');
        return;
      }
      const server = createHttpsServer({ key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) }, (req, res) => fakeScim()(req, res, ''));
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      try {
        const { port } = server.address() as AddressInfo;
        const report = await runDoctor({ baseUrl: `https://127.0.0.1:${port}/scim/v2`, token: TOKEN });
        const c = credentials(report);
        assert.equal(c.status, 'fail');
        assert.equal(c.details?.errorCode, 'DEPTH_ZERO_SELF_SIGNED_CERT');
        assert.match(c.diagnosis!, /TLS certificate problem.*self-signed/);
        assert.match(c.fix!, /public certificate authority/);
      } finally {
        server.closeAllConnections();
        await new Promise((ok) => server.close(ok));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('write checks clean up after themselves', () => {
  /** A tiny SCIM store whose DELETE /Users fails `failDeletes` times. */
  function writableFake(failDeletes: number, failCreate = false) {
    const users = new Map<string, Record<string, unknown>>();
    const groups = new Map<string, Record<string, unknown>>();
    let n = 0;
    let failures = failDeletes;
    const handler: Handler = (req, res, body) => {
      const path = req.url!.replace(/^\/scim\/v2/, '');
      const [, kind, id] = path.split('?')[0].split('/');
      const store = kind === 'Users' ? users : groups;
      if (req.method === 'POST') {
        const obj = { ...JSON.parse(body), id: String(++n) };
        store.set(obj.id, obj);
        if (failCreate && kind === 'Users') return json(res, 502, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '502', detail: 'lost the answer' });
        return json(res, 201, obj);
      }
      if (req.method === 'PATCH' && store.has(id)) {
        const obj = store.get(id)!;
        for (const op of JSON.parse(body).Operations) Object.assign(obj, op.value);
        return json(res, 200, obj);
      }
      if (req.method === 'DELETE') {
        if (kind === 'Users' && failures-- > 0) return json(res, 500, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '500', detail: 'boom' });
        store.delete(id);
        res.writeHead(204);
        return res.end();
      }
      const filter = /filter=([^&]+)/.exec(path);
      if (req.method === 'GET' && filter) {
        const wanted = /"(.*)"/.exec(decodeURIComponent(filter[1]))![1];
        const hits = [...store.values()].filter((o) => o.userName === wanted || o.displayName === wanted);
        return json(res, 200, { schemas: [LIST], totalResults: hits.length, startIndex: 1, itemsPerPage: hits.length, Resources: hits });
      }
      if (req.method === 'GET' && id) return store.has(id) ? json(res, 200, store.get(id)) : json(res, 404, {});
      return fakeScim()(req, res, body);
    };
    return { handler, users, groups };
  }

  test('a failed delete is retried at the end and reported as cleaned up', async () => {
    const fake = writableFake(1);
    await withStandIn(fake.handler, async (s) => {
      const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN, write: true });
      assert.equal(check(report, 'Delete test user').status, 'fail');
      const clean = check(report, 'Clean up');
      assert.equal(clean.status, 'pass');
      assert.equal(fake.users.size, 0);
      assert.equal(fake.groups.size, 0);
      assert.equal(report.ok, false);
    });
  });

  test('a create that failed but happened anyway is found by name and removed; later steps are skipped', async () => {
    const fake = writableFake(0, true);
    await withStandIn(fake.handler, async (s) => {
      const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN, write: true });
      const create = check(report, 'Create test user');
      assert.equal(create.status, 'fail');
      assert.match(create.diagnosis!, /HTTP 502/);
      assert.equal(check(report, 'Deactivate user').status, 'skip');
      assert.equal(check(report, 'Clean up').status, 'pass');
      assert.equal(fake.users.size, 0);
    });
  });

  test('what cannot be removed is named with its id', async () => {
    const fake = writableFake(99);
    await withStandIn(fake.handler, async (s) => {
      const report = await runDoctor({ baseUrl: `${s.url}/scim/v2`, token: TOKEN, write: true });
      const clean = check(report, 'Clean up');
      assert.equal(clean.status, 'fail');
      assert.match(clean.diagnosis!, /user "plumm-doctor-[0-9a-f]+@example\.invalid" \(id 1\)/);
      assert.equal(fake.groups.size, 0);
    });
  });
});

test('an unusable base URL is a failed check, not an exception', async () => {
  const report = await runDoctor({ baseUrl: 'ftp://scim.example.com/scim/v2', token: TOKEN });
  assert.equal(report.ok, false);
  assert.equal(report.checks[0].name, 'Base URL');
  assert.equal(report.checks[0].status, 'fail');
  assertNoToken(report);
});

describe('the command', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server?.close());

  function capture(isTTY: boolean, env: Record<string, string> = {}) {
    const chunks: string[] = [];
    return { io: { stdout: { write: (s: string) => chunks.push(s), isTTY }, env }, text: () => chunks.join('') };
  }

  test('--json prints one JSON object; exit code 0 when all passes, 1 when something fails', async () => {
    const { token } = await server.createOrg();
    const ok = capture(false);
    assert.equal(await doctorCommand(server.scimUrl, { token, json: true }, ok.io), 0);
    const parsed = JSON.parse(ok.text());
    assert.equal(parsed.ok, true);
    assert.ok(Array.isArray(parsed.checks));
    const bad = capture(false);
    assert.equal(await doctorCommand(server.scimUrl, { token: TOKEN, json: true }, bad.io), 1);
    assert.equal(JSON.parse(bad.text()).ok, false);
    assert.ok(!bad.text().includes(TOKEN));
  });

  test('colour only on a terminal without NO_COLOR; the token may come from PLUMM_SCIM_TOKEN', async () => {
    const { token } = await server.createOrg();
    const tty = capture(true, { PLUMM_SCIM_TOKEN: token });
    assert.equal(await doctorCommand(server.scimUrl, {}, tty.io), 0);
    assert.match(tty.text(), /\x1b\[/);
    assert.ok(!tty.text().includes(token));
    const piped = capture(false);
    await doctorCommand(server.scimUrl, { token }, piped.io);
    assert.doesNotMatch(piped.text(), /\x1b\[/);
    assert.match(piped.text(), /PASS/);
    const noColor = capture(true, { NO_COLOR: '1' });
    await doctorCommand(server.scimUrl, { token }, noColor.io);
    assert.doesNotMatch(noColor.text(), /\x1b\[/);
    await assert.rejects(doctorCommand(server.scimUrl, {}, capture(false).io), /--token/);
  });
});
