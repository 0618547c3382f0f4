// The provisioning log over HTTP: every SCIM request an organization's token
// makes is recorded (time, organization, token id, request id, client, action
// in the words an IdP administrator sees, outcome, status, SCIM error type and
// a plain reason, target, duration), never a secret or a request body; support
// searches it, counts it over time and downloads it as CSV through the admin
// API, which needs an operator token. Expected values come from the contract
// (PRODUCT.md "The failure the guide teaches people to debug" and the
// provisioning-log issue), not from the code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type TestServer, startTestServer } from '../support/server.js';
import { type Body, ScimClient, assertScimError, assertStatus, patchBody, send, uniqueEmail, userBody } from '../support/http.js';
import { issueOperatorToken, revokeOperatorToken } from '../../src/auth/operators.js';
import { type EventQuery, type EventView, type ProvisioningEvent, fromRow, searchEvents, toRow } from '../../src/events/log.js';

const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';

let server: TestServer;
let orgA: { orgId: string; token: string; tokenId: string };
let orgB: { orgId: string; token: string };
let scimA: ScimClient;
let scimB: ScimClient;
let operatorToken: string;

async function tokenIdOf(orgId: string): Promise<string> {
  const row = await server.server.store.db.selectFrom('api_tokens').select('id').where('org_id', '=', orgId).executeTakeFirstOrThrow();
  return row.id;
}

before(async () => {
  server = await startTestServer();
  const a = await server.createOrg({ name: 'log org A' });
  orgA = { ...a, tokenId: await tokenIdOf(a.orgId) };
  orgB = await server.createOrg({ name: 'log org B' });
  scimA = new ScimClient(server.scimUrl, orgA.token, { 'user-agent': 'Okta SCIM Client 1.0.0' });
  scimB = new ScimClient(server.scimUrl, orgB.token, { 'user-agent': 'Azure Active Directory SCIM Client' });
  operatorToken = (await issueOperatorToken(server.server.store.db, 'support-tests')).token;
});

after(async () => {
  await server?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Searches an organization's log until `done` holds (the recorder writes in
 * batches about every 100 ms), and returns the last answer either way.
 */
async function search(q: EventQuery, done: (events: EventView[]) => boolean = (e) => e.length > 0, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await searchEvents(server.server.store.db, q);
    if (done(result.events) || Date.now() > deadline) return result;
    await sleep(40);
  }
}

/** The event of one request, found by its request id. */
async function eventOf(requestId: string | null): Promise<EventView | undefined> {
  assert.ok(requestId, 'the response should carry X-Request-Id');
  const deadline = Date.now() + 3000;
  for (;;) {
    const row = await server.server.store.db.selectFrom('events').select('id').where('request_id', '=', requestId).executeTakeFirst();
    if (row) {
      const { events } = await searchAny(requestId);
      return events[0];
    }
    if (Date.now() > deadline) return undefined;
    await sleep(40);
  }
}

/** All stored events with a request id, whatever their organization (null included). */
async function searchAny(requestId: string): Promise<{ events: EventView[] }> {
  const rows = await server.server.store.db.selectFrom('events').selectAll().where('request_id', '=', requestId).execute();
  return { events: rows.map(fromRow) };
}

/** Waits until the recorder has written what is queued (a no-op request's event appears). */
async function settle(): Promise<void> {
  const res = await scimA.get('/Users?count=0', { headers: { 'x-request-id': `settle-${randomUUID()}` } });
  await eventOf(res.headers.get('x-request-id'));
}

function admin(path: string, token: string | null = operatorToken, headers: Record<string, string> = {}) {
  return send(`${server.baseUrl}/admin/api${path}`, {
    method: 'GET',
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
  });
}

async function createUser(client: ScimClient, userName = uniqueEmail('log')): Promise<Body> {
  const res = await client.post('/Users', userBody(userName));
  assertStatus(res, 201);
  return res.body;
}

describe('provisioning log of SCIM requests', () => {
  test('a duplicate create is found by searching "failure", with a reason that names the userName', async () => {
    const email = uniqueEmail('dup');
    await createUser(scimA, email);
    const dup = await scimA.post('/Users', userBody(email));
    assertScimError(dup, 409, 'uniqueness');

    const { events } = await search({ orgId: orgA.orgId, query: 'failure' }, (e) => e.some((x) => x.targetName === email));
    const event = events.find((e) => e.targetName === email);
    assert.ok(event, `searching "failure" should find the duplicate create of ${email}: ${JSON.stringify(events)}`);
    assert.equal(event.outcome, 'FAILURE');
    assert.equal(event.action, 'Push new user');
    assert.equal(event.status, 409);
    assert.equal(event.scimType, 'uniqueness');
    assert.ok(event.reason && event.reason.includes(email), `the reason should name the userName ${email}: ${event.reason}`);
    assert.equal(event.orgId, orgA.orgId);
    assert.equal(event.tokenId, orgA.tokenId);
    assert.equal(event.requestId, dup.headers.get('x-request-id'));
    assert.equal(event.method, 'POST');
    assert.match(event.path ?? '', /\/scim\/v2\/Users$/);
    assert.equal(event.targetType, 'User');

    // The successful create is not a failure.
    assert.ok(events.every((e) => e.outcome === 'FAILURE'), 'searching "failure" returns only failures here');
    const all = await search({ orgId: orgA.orgId, query: email }, (e) => e.length >= 2);
    assert.deepEqual(
      all.events.map((e) => `${e.action} ${e.outcome}`).sort(),
      ['Push new user FAILURE', 'Push new user SUCCESS'],
      'searching the email finds both the create and the duplicate',
    );
  });

  test('the admin API finds the duplicate create by searching "failure"', async () => {
    const email = uniqueEmail('dupadmin');
    await createUser(scimA, email);
    assertStatus(await scimA.post('/Users', userBody(email)), 409);
    await settle();
    const res = await admin(`/organizations/${orgA.orgId}/events?query=failure`);
    assertStatus(res, 200);
    const event = res.body.events.find((e: EventView) => e.targetName === email);
    assert.ok(event, `admin search for "failure" should find ${email}: ${res.describe}`);
    assert.equal(event.outcome, 'FAILURE');
    assert.equal(event.status, 409);
    assert.match(event.reason, new RegExp(email.replace(/[.]/g, '\\.')));
  });

  test('an Okta deactivation is found by the user\'s email as "Push user deactivation", a reactivation as "Reactivate user"', async () => {
    const email = uniqueEmail('okta');
    const user = await createUser(scimA, email);
    const off = await scimA.patch(`/Users/${user.id}`, patchBody({ op: 'replace', value: { active: false } }));
    assertStatus(off, 200);
    assert.equal(off.body.active, false);
    const on = await scimA.patch(`/Users/${user.id}`, patchBody({ op: 'replace', value: { active: true } }));
    assertStatus(on, 200);
    assert.equal(on.body.active, true);

    const { events } = await search({ orgId: orgA.orgId, query: email }, (e) => e.length >= 3);
    assert.deepEqual(
      events.map((e) => e.action),
      ['Reactivate user', 'Push user deactivation', 'Push new user'],
      `newest first: ${JSON.stringify(events.map((e) => [e.action, e.occurredAt]))}`,
    );
    const deactivation = events[1];
    assert.equal(deactivation.outcome, 'SUCCESS');
    assert.equal(deactivation.status, 200);
    assert.equal(deactivation.targetId, user.id);
    assert.equal(deactivation.targetName, email);
    assert.equal(deactivation.requestId, off.headers.get('x-request-id'));
    assert.equal(deactivation.reason, null, 'a success has no failure reason');
    assert.equal(deactivation.userAgent, 'Okta SCIM Client 1.0.0');
    assert.equal(deactivation.method, 'PATCH');

    const byAction = await search({ orgId: orgA.orgId, query: email, action: 'Push user deactivation' });
    assert.equal(byAction.total, 1, 'the action filter narrows to the deactivation');
  });

  test('an Entra deactivation with the string "False" is "Push user deactivation", "True" is "Reactivate user"', async () => {
    const email = uniqueEmail('entra');
    const user = await createUser(scimB, email);
    const off = await scimB.patch(`/Users/${user.id}`, patchBody({ op: 'Replace', path: 'active', value: 'False' }));
    assertStatus(off, 200);
    assert.equal(off.body.active, false);
    const on = await scimB.patch(`/Users/${user.id}`, patchBody({ op: 'Replace', path: 'active', value: 'True' }));
    assertStatus(on, 200);

    const { events } = await search({ orgId: orgB.orgId, query: email }, (e) => e.length >= 3);
    assert.deepEqual(events.map((e) => e.action), ['Reactivate user', 'Push user deactivation', 'Push new user']);
    assert.equal(events[1].requestId, off.headers.get('x-request-id'));
  });

  test('a deactivation by PUT with active false is "Push user deactivation"', async () => {
    const email = uniqueEmail('put');
    const user = await createUser(scimA, email);
    const res = await scimA.put(`/Users/${user.id}`, userBody(email, { active: false }));
    assertStatus(res, 200);
    const event = await eventOf(res.headers.get('x-request-id'));
    assert.equal(event?.action, 'Push user deactivation');
  });

  test('a deactivation Okta sends again for an already deactivated user is still "Push user deactivation"', async () => {
    // Okta retries a deactivation it believes failed; the administrator sees "Push user deactivation" in Okta,
    // so the log must call the request the same.
    const email = uniqueEmail('again');
    const user = await createUser(scimA, email);
    assertStatus(await scimA.patch(`/Users/${user.id}`, patchBody({ op: 'replace', value: { active: false } })), 200);
    const again = await scimA.patch(`/Users/${user.id}`, patchBody({ op: 'replace', value: { active: false } }));
    assertStatus(again, 200);
    const event = await eventOf(again.headers.get('x-request-id'));
    assert.equal(event?.action, 'Push user deactivation', `request ${again.headers.get('x-request-id')} logged as ${event?.action}`);
  });

  test('a failed deactivation of an unknown user is "Push user deactivation" with a FAILURE and a reason', async () => {
    const missing = randomUUID();
    const res = await scimA.patch(`/Users/${missing}`, patchBody({ op: 'replace', value: { active: false } }));
    assertScimError(res, 404);
    const event = await eventOf(res.headers.get('x-request-id'));
    assert.ok(event);
    assert.equal(event.action, 'Push user deactivation');
    assert.equal(event.outcome, 'FAILURE');
    assert.equal(event.status, 404);
    assert.equal(event.targetId, missing);
    assert.ok(event.reason && event.reason.length > 0, 'a failure carries a plain reason');
  });

  test('profile updates, deletes, imports, credential checks and group pushes get the administrator\'s words', async () => {
    const email = uniqueEmail('actions');
    const user = await createUser(scimA, email);
    const update = await scimA.patch(`/Users/${user.id}`, patchBody({ op: 'replace', path: 'displayName', value: 'Renamed' }));
    assertStatus(update, 200);
    const check = await scimA.get('/Users?startIndex=1&count=1');
    assertStatus(check, 200);
    const imp = await scimA.get('/Users?startIndex=1&count=100');
    assertStatus(imp, 200);
    const groupName = `Group ${randomBytes(3).toString('hex')}`;
    const group = await scimA.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: groupName });
    assertStatus(group, 201);
    const members = await scimA.patch(`/Groups/${group.body.id}`, patchBody({ op: 'add', path: 'members', value: [{ value: user.id }] }));
    // RFC 7644 §3.5.2: 200 with the group, or 204.
    assert.ok(members.status === 200 || members.status === 204, `PATCH answered ${members.status}`);
    const del = await scimA.delete(`/Users/${user.id}`);
    assertStatus(del, 204);

    const expected: [typeof update, string, string | undefined][] = [
      [update, 'Push profile update', email],
      [check, 'Check credentials', undefined],
      [imp, 'Import users', undefined],
      [group, 'Push group', groupName],
      [members, 'Update group membership', groupName],
      [del, 'Delete user', email],
    ];
    for (const [res, action, target] of expected) {
      const event = await eventOf(res.headers.get('x-request-id'));
      assert.ok(event, `no event for ${res.describe}`);
      assert.equal(event.action, action, `action of ${res.describe}`);
      assert.equal(event.outcome, 'SUCCESS');
      assert.equal(event.orgId, orgA.orgId);
      if (target) assert.equal(event.targetName, target, `target of ${res.describe}`);
      assert.equal(typeof event.durationMs, 'number', 'a duration is recorded');
      assert.ok(event.durationMs! >= 0);
      assert.ok(!Number.isNaN(Date.parse(event.occurredAt)), 'a time is recorded');
    }
    const delEvent = await eventOf(del.headers.get('x-request-id'));
    assert.equal(delEvent?.targetId, user.id);
  });

  test('a request with a wrong token is recorded against no organization, with the client address', async () => {
    const requestId = `wrong-token-${randomBytes(4).toString('hex')}`;
    const res = await scimA.get('/Users', { token: 'plmscim_not-a-real-token', headers: { 'x-request-id': requestId } });
    assertScimError(res, 401);
    assert.equal(res.headers.get('x-request-id'), requestId);
    const event = await eventOf(requestId);
    assert.ok(event, 'the refused request is recorded');
    assert.equal(event.orgId, null);
    assert.equal(event.tokenId, null);
    assert.equal(event.outcome, 'FAILURE');
    assert.equal(event.status, 401);
    assert.ok(event.clientIp && /127\.0\.0\.1|::1/.test(event.clientIp), `client address: ${event.clientIp}`);
    assert.ok(event.reason && event.reason.length > 0);
    const inA = await searchEvents(server.server.store.db, { orgId: orgA.orgId, query: requestId });
    assert.equal(inA.total, 0);
    const rows = await server.server.store.db.selectFrom('events').select(['org_id', 'request_id']).where('request_id', '=', requestId).execute();
    assert.deepEqual(rows, [{ org_id: null, request_id: requestId }]);
  });

  test('a request with no token at all is recorded against no organization', async () => {
    const res = await scimA.get('/Users', { token: null });
    assertScimError(res, 401);
    const event = await eventOf(res.headers.get('x-request-id'));
    assert.equal(event?.orgId, null);
    assert.equal(event?.outcome, 'FAILURE');
  });

  test('a request of an organization whose provisioning is off is in its log as a FAILURE with the reason', async () => {
    const off = await server.createOrg({ name: 'log org off', provisioning: false });
    const client = new ScimClient(server.scimUrl, off.token);
    const res = await client.get('/Users?startIndex=1&count=1');
    assertScimError(res, 403);
    const { events } = await search({ orgId: off.orgId, query: 'failure' });
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].status, 403);
    assert.match(events[0].reason ?? '', /provisioning/i);
  });

  test('a malformed JSON body sent with a valid token is in that organization\'s log as a FAILURE', async () => {
    // Okta's "Invalid JSON" failures are what support searches for; a body the service cannot
    // parse is still a request the organization's token made.
    const requestId = `bad-json-${randomBytes(4).toString('hex')}`;
    const res = await scimA.request('POST', '/Users', { rawBody: '{"userName": "broken@example.com",', headers: { 'x-request-id': requestId } });
    assertScimError(res, 400, 'invalidSyntax');
    const event = await eventOf(requestId);
    assert.ok(event, 'the request is recorded');
    assert.equal(event.outcome, 'FAILURE');
    assert.equal(event.status, 400);
    assert.equal(event.orgId, orgA.orgId, `recorded against organization ${event.orgId}, actor ${event.actor}`);
    assert.equal(event.tokenId, orgA.tokenId);
  });

  test('a body with an unsupported Content-Type sent with a valid token is in that organization\'s log', async () => {
    const requestId = `bad-type-${randomBytes(4).toString('hex')}`;
    const res = await scimA.request('POST', '/Users', { rawBody: '<html>hello</html>', contentType: 'text/html', headers: { 'x-request-id': requestId } });
    assertScimError(res, 415);
    const event = await eventOf(requestId);
    assert.ok(event);
    assert.equal(event.status, 415);
    assert.equal(event.orgId, orgA.orgId, `recorded against organization ${event.orgId}, actor ${event.actor}`);
  });

  test('a request with a valid token to a SCIM endpoint that does not exist is in that organization\'s log', async () => {
    // A base URL entered wrong in the IdP ends here; support must see those failures too.
    for (const [method, path] of [['POST', '/Widgets'], ['GET', '/Users/a/b']] as const) {
      const requestId = `no-route-${randomBytes(4).toString('hex')}`;
      const res = await scimA.request(method, path, { headers: { 'x-request-id': requestId }, body: method === 'POST' ? {} : undefined });
      assertScimError(res, 404);
      const event = await eventOf(requestId);
      assert.ok(event, `${method} ${path} -> 404 is not recorded at all`);
      assert.equal(event.orgId, orgA.orgId);
      assert.equal(event.outcome, 'FAILURE');
    }
  });

  test('X-Request-Id from the caller is echoed and carried by the event; without one, the generated id is', async () => {
    const given = `okta-${randomBytes(6).toString('hex')}`;
    const res = await scimA.get('/Users?count=1', { headers: { 'x-request-id': given } });
    assertStatus(res, 200);
    assert.equal(res.headers.get('x-request-id'), given);
    assert.equal((await eventOf(given))?.requestId, given);

    const plain = await scimA.get('/Users?count=1');
    const generated = plain.headers.get('x-request-id');
    assert.ok(generated && generated.length > 0, 'a request id is generated when none is given');
    assert.notEqual(generated, given);
    assert.equal((await eventOf(generated))?.requestId, generated);

    const failing = await scimA.get(`/Users/${randomUUID()}`, { headers: { 'x-request-id': `${given}-404` } });
    assertScimError(failing, 404);
    assert.equal(failing.headers.get('x-request-id'), `${given}-404`, 'an error answer echoes the id too');
    assert.equal((await eventOf(`${given}-404`))?.outcome, 'FAILURE');
  });

  test('no token, Authorization header, operator token or password is stored anywhere in the events table', async () => {
    const password = `Pw-${randomBytes(9).toString('hex')}`;
    const email = uniqueEmail('secret');
    const created = await scimA.post('/Users', userBody(email, { password }));
    assertStatus(created, 201);
    const dup = await scimA.post('/Users', userBody(email, { password }));
    assertStatus(dup, 409);
    const wrongType = await scimA.post('/Users', userBody(uniqueEmail('secret'), { password: { value: password } }));
    assert.ok(wrongType.status === 201 || wrongType.status === 400, wrongType.describe);
    assertStatus(await scimA.patch(`/Users/${created.body.id}`, patchBody({ op: 'replace', path: 'password', value: password })), 200);
    assertStatus(await scimA.put(`/Users/${created.body.id}`, userBody(email, { password })), 200);
    await scimA.patch(`/Users/${created.body.id}`, { schemas: ['bad'], Operations: [{ op: 'replace', path: 'password', value: password }] });
    await scimA.request('POST', '/Users', { rawBody: `{"userName":"${email}","password":"${password}",` });
    await scimA.get('/Users', { token: `${orgA.token}x` });
    await admin(`/organizations/${orgA.orgId}/events?query=${encodeURIComponent(password)}`);
    await settle();
    await server.server.app.inject({ method: 'GET', url: '/healthz' });

    const rows = await server.server.store.db.selectFrom('events').selectAll().execute();
    assert.ok(rows.length > 10);
    const dump = JSON.stringify(rows);
    const secretPart = (t: string) => t.slice(12); // past the prefix and the 4 characters a hint may show
    assert.ok(!dump.includes(password), 'a password value is stored in the events table');
    assert.ok(!dump.includes(secretPart(orgA.token)), 'the SCIM token secret of org A is stored in the events table');
    assert.ok(!dump.includes(secretPart(orgB.token)), 'the SCIM token secret of org B is stored in the events table');
    assert.ok(!dump.includes(secretPart(operatorToken)), 'the operator token is stored in the events table');
    assert.ok(!/bearer\s+plm/i.test(dump), 'an Authorization header is stored in the events table');
    assert.ok(!/givenName|familyName/.test(dump), 'a request body is stored in the events table');
  });

  test('another organization sees none of the first one\'s events, by search or through the admin API', async () => {
    const email = uniqueEmail('isolated');
    const user = await createUser(scimA, email);
    assertStatus(await scimA.post('/Users', userBody(email)), 409);
    assertStatus(await scimA.patch(`/Users/${user.id}`, patchBody({ op: 'replace', value: { active: false } })), 200);
    await search({ orgId: orgA.orgId, query: email }, (e) => e.length >= 3);

    const db = server.server.store.db;
    for (const query of [email, user.id, 'failure', orgA.tokenId, 'Push user deactivation']) {
      const { total, events } = await searchEvents(db, { orgId: orgB.orgId, query });
      assert.ok(
        events.every((e) => e.orgId === orgB.orgId && e.targetName !== email && e.tokenId !== orgA.tokenId),
        `org B's search for "${query}" shows org A's events: ${JSON.stringify(events)}`,
      );
      if (query !== 'Push user deactivation' && query !== 'failure') assert.equal(total, 0, `org B's search for "${query}"`);
    }
    const everythingOfB = await searchEvents(db, { orgId: orgB.orgId, limit: 1000 });
    assert.ok(everythingOfB.events.every((e) => e.orgId === orgB.orgId && e.tokenId !== orgA.tokenId));

    const list = await admin(`/organizations/${orgB.orgId}/events?query=${encodeURIComponent(email)}`);
    assertStatus(list, 200);
    assert.equal(list.body.total, 0, list.describe);
    assert.deepEqual(list.body.events, []);
    const all = await admin(`/organizations/${orgB.orgId}/events?limit=1000`);
    assert.ok(all.body.events.every((e: EventView) => e.orgId === orgB.orgId), all.describe);
    const counts = await admin(`/organizations/${orgB.orgId}/events/counts?bucket=day&query=${encodeURIComponent(email)}`);
    assertStatus(counts, 200);
    assert.deepEqual(counts.body.counts, [], counts.describe);
    const csv = await admin(`/organizations/${orgB.orgId}/events.csv?query=${encodeURIComponent(email)}`);
    assertStatus(csv, 200);
    assert.equal(csv.text.split('\r\n').filter(Boolean).length, 1, `only the header row: ${csv.text}`);
    assert.ok(!csv.text.includes(email));
    const csvAll = await admin(`/organizations/${orgB.orgId}/events.csv`);
    assert.ok(!csvAll.text.includes(email) && !csvAll.text.includes(orgA.orgId) && !csvAll.text.includes(orgA.tokenId));
  });

  test('a user id of organization A sent with organization B\'s token is logged for B only', async () => {
    const user = await createUser(scimA);
    const res = await scimB.patch(`/Users/${user.id}`, patchBody({ op: 'replace', value: { active: false } }));
    assertScimError(res, 404);
    const event = await eventOf(res.headers.get('x-request-id'));
    assert.equal(event?.orgId, orgB.orgId);
    assert.equal(event?.targetName ?? null, null, 'org A\'s userName must not appear in org B\'s log');
  });
});

describe('searching the log', () => {
  test('search narrows by time range, outcome and action, newest first and paged', async () => {
    const org = await server.createOrg({ name: 'search org' });
    const client = new ScimClient(server.scimUrl, org.token);
    const emails = [uniqueEmail('s1'), uniqueEmail('s2'), uniqueEmail('s3')];
    for (const e of emails) {
      await createUser(client, e);
      await sleep(5);
    }
    const mid = new Date().toISOString();
    await sleep(5);
    assertStatus(await client.post('/Users', userBody(emails[0])), 409);
    assertStatus(await client.post('/Users', userBody(emails[1])), 409);
    const { events } = await search({ orgId: org.orgId }, (e) => e.length >= 5);
    assert.equal(events.length, 5);
    const times = events.map((e) => e.occurredAt);
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');

    const db = server.server.store.db;
    assert.equal((await searchEvents(db, { orgId: org.orgId, outcome: 'FAILURE' })).total, 2);
    assert.equal((await searchEvents(db, { orgId: org.orgId, outcome: 'SUCCESS' })).total, 3);
    assert.equal((await searchEvents(db, { orgId: org.orgId, from: mid })).total, 2);
    assert.equal((await searchEvents(db, { orgId: org.orgId, to: mid })).total, 3);
    assert.equal((await searchEvents(db, { orgId: org.orgId, action: 'Push new user' })).total, 5);
    assert.equal((await searchEvents(db, { orgId: org.orgId, action: 'Delete user' })).total, 0);
    assert.equal((await searchEvents(db, { orgId: org.orgId, query: `failure ${emails[1]}` })).total, 1, 'every word must match');
    assert.equal((await searchEvents(db, { orgId: org.orgId, query: 'FAILURE' })).total, 2, 'search ignores case');

    const page1 = await admin(`/organizations/${org.orgId}/events?limit=2&offset=0`);
    const page2 = await admin(`/organizations/${org.orgId}/events?limit=2&offset=2`);
    const page3 = await admin(`/organizations/${org.orgId}/events?limit=2&offset=4`);
    assertStatus(page1, 200);
    assert.equal(page1.body.total, 5);
    assert.deepEqual(
      [...page1.body.events, ...page2.body.events, ...page3.body.events].map((e: EventView) => e.id),
      events.map((e) => e.id),
      'pages follow one another without gaps or repeats',
    );
    const ranged = await admin(`/organizations/${org.orgId}/events?from=${encodeURIComponent(mid)}&outcome=failure`);
    assert.equal(ranged.body.total, 2, ranged.describe);
    const byAction = await admin(`/organizations/${org.orgId}/events?action=${encodeURIComponent('Push new user')}&query=success`);
    assert.equal(byAction.body.total, 3, byAction.describe);
  });

  test('the admin API refuses a malformed time or outcome with 400 JSON', async () => {
    const badFrom = await admin(`/organizations/${orgA.orgId}/events?from=yesterday`);
    assertStatus(badFrom, 400);
    assert.match(badFrom.headers.get('content-type') ?? '', /json/);
    const badOutcome = await admin(`/organizations/${orgA.orgId}/events?outcome=maybe`);
    assertStatus(badOutcome, 400);
    const badBucket = await admin(`/organizations/${orgA.orgId}/events/counts?bucket=week`);
    assertStatus(badBucket, 400);
    const unknownOrg = await admin(`/organizations/${randomUUID()}/events`);
    assertStatus(unknownOrg, 404);
    assert.match(unknownOrg.headers.get('content-type') ?? '', /json/);
  });
});

describe('admin API credentials', () => {
  test('without a credential the admin API answers 401 in JSON', async () => {
    for (const path of ['/organizations', `/organizations/${orgA.orgId}/events`, `/organizations/${orgA.orgId}/events.csv`, `/organizations/${orgA.orgId}/events/counts`]) {
      const res = await admin(path, null);
      assertStatus(res, 401);
      assert.match(res.headers.get('content-type') ?? '', /json/, res.describe);
      assert.ok(res.body && typeof res.body.detail === 'string', `a JSON body with a detail: ${res.describe}`);
      assert.ok(!/<html/i.test(res.text));
    }
  });

  test('an organization\'s SCIM token, a made-up token and a revoked operator token are refused', async () => {
    assertStatus(await admin('/organizations', orgA.token), 401);
    assertStatus(await admin('/organizations', 'plmop_made-up'), 401);
    const issued = await issueOperatorToken(server.server.store.db, 'short-lived');
    assertStatus(await admin('/organizations', issued.token), 200);
    assert.ok(await revokeOperatorToken(server.server.store.db, issued.id));
    assertStatus(await admin('/organizations', issued.token), 401);
  });

  test('an operator token is not a SCIM token', async () => {
    assertScimError(await scimA.get('/Users', { token: operatorToken }), 401);
  });

  test('with an operator token the admin API answers 200', async () => {
    const res = await admin('/organizations');
    assertStatus(res, 200);
    assert.ok(res.body.organizations.some((o: { id: string }) => o.id === orgA.orgId));
    assertStatus(await admin(`/organizations/${orgA.orgId}/events`), 200);
    const csv = await admin(`/organizations/${orgA.orgId}/events.csv`);
    assertStatus(csv, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(csv.text.split('\r\n')[0], /^occurredAt,orgId,actor,/);
  });
});

/** Inserts events straight into the store, as the recorder would, in transactions of `batch` rows. */
async function insertEvents(events: Iterable<ProvisioningEvent>, batch = 500): Promise<number> {
  const db = server.server.store.db;
  let n = 0;
  let rows: ReturnType<typeof toRow>[] = [];
  const flush = async () => {
    const chunk = rows;
    rows = [];
    if (chunk.length) await db.transaction().execute(async (trx) => void (await trx.insertInto('events').values(chunk).execute()));
  };
  for (const e of events) {
    rows.push(toRow(e));
    n++;
    if (rows.length >= batch) await flush();
  }
  await flush();
  return n;
}

function event(orgId: string, occurredAt: string, outcome: 'SUCCESS' | 'FAILURE', extra: Partial<ProvisioningEvent> = {}): ProvisioningEvent {
  return { orgId, occurredAt, actor: 'token:t', action: 'Push new user', outcome, status: outcome === 'SUCCESS' ? 201 : 409, ...extra };
}

describe('counts over time', () => {
  test('counts per bucket match the events inserted at known times', async () => {
    const org = await server.createOrg({ name: 'counts org' });
    const spec: [string, 'SUCCESS' | 'FAILURE', number][] = [
      ['2026-01-15T08:05:00.000Z', 'SUCCESS', 3],
      ['2026-01-15T08:05:59.999Z', 'FAILURE', 1],
      ['2026-01-15T08:59:59.999Z', 'FAILURE', 2],
      ['2026-01-15T09:00:00.000Z', 'SUCCESS', 1],
      ['2026-01-15T10:30:00.000Z', 'FAILURE', 4],
      ['2026-01-15T10:30:30.000Z', 'SUCCESS', 2],
      ['2026-01-16T00:00:00.000Z', 'SUCCESS', 1],
    ];
    const rows: ProvisioningEvent[] = [];
    for (const [at, outcome, n] of spec) for (let i = 0; i < n; i++) rows.push(event(org.orgId, at, outcome));
    // Another organization's events in the same hours must not be counted.
    rows.push(event(orgB.orgId, '2026-01-15T08:05:00.000Z', 'FAILURE'), event(orgB.orgId, '2026-01-15T09:10:00.000Z', 'SUCCESS'));
    await insertEvents(rows);

    const counts = async (query: string) => {
      const res = await admin(`/organizations/${org.orgId}/events/counts?${query}`);
      assertStatus(res, 200);
      return res.body.counts;
    };
    assert.deepEqual(await counts('bucket=hour'), [
      { bucket: '2026-01-15T08:00:00.000Z', success: 3, failure: 3 },
      { bucket: '2026-01-15T09:00:00.000Z', success: 1, failure: 0 },
      { bucket: '2026-01-15T10:00:00.000Z', success: 2, failure: 4 },
      { bucket: '2026-01-16T00:00:00.000Z', success: 1, failure: 0 },
    ]);
    assert.deepEqual(await counts('bucket=minute'), [
      { bucket: '2026-01-15T08:05:00.000Z', success: 3, failure: 1 },
      { bucket: '2026-01-15T08:59:00.000Z', success: 0, failure: 2 },
      { bucket: '2026-01-15T09:00:00.000Z', success: 1, failure: 0 },
      { bucket: '2026-01-15T10:30:00.000Z', success: 2, failure: 4 },
      { bucket: '2026-01-16T00:00:00.000Z', success: 1, failure: 0 },
    ]);
    assert.deepEqual(await counts('bucket=day'), [
      { bucket: '2026-01-15T00:00:00.000Z', success: 6, failure: 7 },
      { bucket: '2026-01-16T00:00:00.000Z', success: 1, failure: 0 },
    ]);
    assert.deepEqual(
      await counts(`bucket=hour&from=${encodeURIComponent('2026-01-15T09:00:00Z')}&to=${encodeURIComponent('2026-01-15T10:30:00Z')}`),
      [{ bucket: '2026-01-15T09:00:00.000Z', success: 1, failure: 0 }],
      'from is inclusive, to exclusive',
    );
    assert.deepEqual(await counts('bucket=hour&outcome=failure'), [
      { bucket: '2026-01-15T08:00:00.000Z', success: 0, failure: 3 },
      { bucket: '2026-01-15T10:00:00.000Z', success: 0, failure: 4 },
    ]);
    assert.deepEqual(await counts(''), await counts('bucket=hour'), 'hour is the default bucket');

    // The counts add up to what search finds for the same filters.
    const total = (await searchEvents(server.server.store.db, { orgId: org.orgId })).total;
    const summed = (await counts('bucket=day')).reduce((n: number, c: { success: number; failure: number }) => n + c.success + c.failure, 0);
    assert.equal(summed, total);
    assert.equal(total, 14);
  });

  test('counts of real requests match the events search finds', async () => {
    const org = await server.createOrg({ name: 'live counts org' });
    const client = new ScimClient(server.scimUrl, org.token);
    const email = uniqueEmail('live');
    await createUser(client, email);
    assertStatus(await client.post('/Users', userBody(email)), 409);
    assertStatus(await client.get(`/Users/${randomUUID()}`), 404);
    await search({ orgId: org.orgId }, (e) => e.length >= 3);
    const res = await admin(`/organizations/${org.orgId}/events/counts?bucket=minute`);
    const sums = res.body.counts.reduce((a: { s: number; f: number }, c: { success: number; failure: number }) => ({ s: a.s + c.success, f: a.f + c.failure }), { s: 0, f: 0 });
    assert.deepEqual(sums, { s: 1, f: 2 }, res.describe);
  });
});

describe('CSV export', () => {
  test('the CSV export has a header row and one line per event, with quoting', async () => {
    const org = await server.createOrg({ name: 'csv org' });
    await insertEvents([
      event(org.orgId, '2026-02-01T10:00:00.000Z', 'FAILURE', { reason: 'He said "no", twice\nthen left', targetName: 'a@example.com' }),
      event(org.orgId, '2026-02-01T11:00:00.000Z', 'SUCCESS', { targetName: '=HYPERLINK("http://evil")' }),
    ]);
    const res = await admin(`/organizations/${org.orgId}/events.csv`);
    assertStatus(res, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    assert.match(res.headers.get('content-disposition') ?? '', /attachment/);
    const [header, first] = res.text.split('\r\n');
    assert.equal(header.split(',')[0], 'occurredAt');
    for (const column of ['orgId', 'tokenId', 'requestId', 'clientIp', 'userAgent', 'action', 'outcome', 'status', 'scimType', 'reason', 'targetId', 'targetName', 'durationMs']) {
      assert.ok(header.split(',').includes(column), `header has ${column}: ${header}`);
    }
    assert.match(first, /^2026-02-01T11:00:00.000Z,/, 'newest first');
    assert.ok(!res.text.includes(',=HYPERLINK'), 'a cell cannot start a spreadsheet formula');
    assert.ok(res.text.includes('"He said ""no"", twice\nthen left"'), 'quotes, commas and newlines are quoted');
  });

  test('a CSV export of 100,000 events streams with flat memory', { timeout: 300_000 }, async () => {
    const org = await server.createOrg({ name: 'big csv org' });
    const N = 100_000;
    const start = Date.parse('2026-03-01T00:00:00.000Z');
    const reason = `A user with userName "someone@example.com" already exists in this organization. ${'x'.repeat(150)}`;
    const userAgent = `Okta SCIM Client 1.0.0 ${'y'.repeat(100)}`;
    function* many(): Generator<ProvisioningEvent> {
      for (let i = 0; i < N; i++) {
        const failed = i % 7 === 0;
        yield {
          orgId: org.orgId,
          occurredAt: new Date(start + i * 1000).toISOString(),
          actor: 'token:big',
          tokenId: 'big',
          requestId: `req-${i}`,
          clientIp: '203.0.113.9',
          userAgent,
          method: 'POST',
          path: '/scim/v2/Users',
          action: 'Push new user',
          outcome: failed ? 'FAILURE' : 'SUCCESS',
          status: failed ? 409 : 201,
          scimType: failed ? 'uniqueness' : null,
          reason: failed ? reason : null,
          targetType: 'User',
          targetId: randomUUID(),
          targetName: `user${i}@example.com`,
          durationMs: 12.5,
        };
      }
    }
    const t0 = Date.now();
    assert.equal(await insertEvents(many(), 1000), N);
    const insertMs = Date.now() - t0;

    // A collector, so the samples measure what the export holds rather than garbage not yet collected.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const baseline = process.memoryUsage();
    let peakHeap = baseline.heapUsed;
    let peakRss = baseline.rss;
    let bytes = 0;
    let lines = 0;
    let sinceSample = 0;
    let firstLines = '';

    const res = await fetch(`${server.baseUrl}/admin/api/organizations/${org.orgId}/events.csv`, { headers: { authorization: `Bearer ${operatorToken}` } });
    assert.equal(res.status, 200);
    assert.ok(res.body);
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      sinceSample += value.length;
      if (firstLines.length < 2000) firstLines += Buffer.from(value.subarray(0, 2000)).toString('utf8');
      for (let i = 0; i < value.length; i++) if (value[i] === 10) lines++;
      if (sinceSample > 4 * 1024 * 1024) {
        sinceSample = 0;
        gc();
        const m = process.memoryUsage();
        peakHeap = Math.max(peakHeap, m.heapUsed);
        peakRss = Math.max(peakRss, m.rss);
      }
    }
    const MB = 1024 * 1024;
    const growth = peakHeap - baseline.heapUsed;
    const report = `CSV ${(bytes / MB).toFixed(1)} MB, ${lines} lines; heap growth ${(growth / MB).toFixed(1)} MB, rss growth ${((peakRss - baseline.rss) / MB).toFixed(1)} MB; insert ${insertMs} ms`;
    assert.equal(lines, N + 1, `a header row and one line per event: ${report}`);
    assert.match(firstLines, /^occurredAt,orgId,actor,/);
    assert.match(firstLines.split('\r\n')[1], new RegExp(`^${new Date(start + (N - 1) * 1000).toISOString()},`), 'newest first');
    assert.ok(bytes > 30 * MB, `the export is large enough to tell streaming from buffering: ${report}`);
    assert.ok(growth < 32 * MB, `heap growth while streaming should stay flat: ${report}`);
    assert.ok(growth < bytes / 4, `heap growth should be a small fraction of the export: ${report}`);
  });
});
