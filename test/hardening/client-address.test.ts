/**
 * The client address (rate-limit key for requests without a token, the
 * auth-failure throttle key, and client_ip in the provisioning log) must not
 * be chosen by the client. Behind one proxy that appends to X-Forwarded-For
 * (nginx $proxy_add_x_forwarded_for, cloud load balancers), the address the
 * proxy saw is the RIGHTMOST entry; anything left of it is what the client
 * sent. Which proxies to believe is the operator's setting (TRUST_PROXY): with
 * none set, X-Forwarded-For is ignored altogether.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../support/server.js';

describe('client address behind a proxy', () => {
  let server: TestServer;
  before(async () => {
    // Deployed behind one proxy that appends the address it saw.
    server = await startTestServer({ SCIM_RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '1' });
  });
  after(async () => server?.close());

  test('a forged X-Forwarded-For entry does not become the logged client address', async () => {
    const res = await fetch(`${server.scimUrl}/Users`, {
      headers: { authorization: 'Bearer plmscim_not-a-token', 'x-forwarded-for': '203.0.113.66, 198.51.100.7', 'x-request-id': 'xff-forgery-1' },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 401);
    await new Promise((r) => setTimeout(r, 300)); // the provisioning log writes in batches
    const row = await server.server.store.db.selectFrom('events').select('client_ip').where('request_id', '=', 'xff-forgery-1').executeTakeFirst();
    assert.ok(row, 'the request was logged');
    assert.equal(row.client_ip, '198.51.100.7', 'the address the (single, trusted) proxy appended, not the one the client wrote');
  });

  test('rotating a forged X-Forwarded-For entry does not escape the per-address limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${server.scimUrl}/Users`, { headers: { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.8` } });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    assert.ok(statuses.includes(429), `one real client, 5 requests, limit 3 a minute: ${statuses}`);
  });
});

describe('client address with no proxy configured', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server?.close());

  test('X-Forwarded-For is ignored: the logged address is the connection\'s', async () => {
    const res = await fetch(`${server.scimUrl}/Users`, {
      headers: { authorization: 'Bearer plmscim_not-a-token', 'x-forwarded-for': '203.0.113.66', 'x-request-id': 'xff-ignored-1' },
    });
    await res.arrayBuffer();
    assert.equal(res.status, 401);
    await new Promise((r) => setTimeout(r, 300));
    const row = await server.server.store.db.selectFrom('events').select('client_ip').where('request_id', '=', 'xff-ignored-1').executeTakeFirst();
    assert.ok(row, 'the request was logged');
    assert.equal(row.client_ip, '127.0.0.1');
  });

  test('X-Forwarded-Host does not change Location', async () => {
    const org = await server.createOrg();
    const res = await fetch(`${server.scimUrl}/Users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${org.token}`, 'content-type': 'application/scim+json', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ userName: 'where@example.com' }),
    });
    assert.equal(res.status, 201);
    assert.ok(res.headers.get('location')?.startsWith(server.scimUrl), res.headers.get('location') ?? '');
  });
});
