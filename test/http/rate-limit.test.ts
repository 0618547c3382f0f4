import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type TestServer, startTestServer } from '../support/server.js';

describe('rate limit per token', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ SCIM_RATE_LIMIT_PER_MINUTE: '5' });
  });
  after(async () => server.close());

  test('the request past the limit answers 429 SCIM JSON with Retry-After in whole seconds', async () => {
    const { token } = await server.createOrg();
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${server.scimUrl}/Users`, { headers: { authorization: `Bearer ${token}` } });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
      else await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
    assert.ok(limited);
    assert.match(limited.headers.get('content-type') ?? '', /^application\/scim\+json/);
    // Okta honours only an integer number of seconds (RFC 9110 delay-seconds).
    assert.match(limited.headers.get('retry-after') ?? '', /^\d+$/);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const body = await limited.json();
    assert.equal(body.status, '429');
    assert.deepEqual(body.schemas, ['urn:ietf:params:scim:api:messages:2.0:Error']);
  });

  test('another token has its own allowance', async () => {
    const { token } = await server.createOrg();
    const res = await fetch(`${server.scimUrl}/Users`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
  });
});
