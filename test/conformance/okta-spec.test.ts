// Okta's "SCIM 2.0 SPEC Test" (a Runscope export Okta asks SCIM vendors to pass before
// submitting an integration), run against a fresh server with our own interpreter.
// The export is read at run time from ../shared/conformance/ next to the repository.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer } from '../support/server.js';
import { oktaSpecVariables, runRunscope, type StepResult } from '../support/runscope.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SPEC_FILE = path.resolve(repoRoot, '../shared/conformance/okta-Okta-SCIM-20-SPEC-Test.json');
const TEST_NAME = 'Okta SCIM 2.0 SPEC test: every step passes';

function describeFailure(r: StepResult): string {
  return `- ${r.name}\n    ${r.method} ${r.url} -> ${r.status}\n${r.failures.map((f) => `    * ${f}`).join('\n')}`;
}

if (!existsSync(SPEC_FILE)) {
  const note = `shared/ conformance data not found: ${SPEC_FILE}`;
  if (process.env.CI === 'true') {
    test(TEST_NAME, () => assert.fail(`${note} (required when CI=true)`));
  } else {
    test(TEST_NAME, { skip: note }, () => {});
  }
} else {
  test(TEST_NAME, async (t) => {
    const server = await startTestServer();
    try {
      const { token } = await server.createOrg({ name: 'okta-spec', usernameFormat: 'email', provisioning: true });

      // The SPEC test reads Resources[0] of GET /Users?count=1 in its first step, so the
      // organization needs one user with a name and an email before it starts.
      const seed = await fetch(`${server.scimUrl}/Users`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/scim+json',
          Accept: 'application/scim+json',
        },
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: 'seed.user@example.com',
          name: { givenName: 'Seed', familyName: 'User' },
          emails: [{ primary: true, type: 'work', value: 'seed.user@example.com' }],
          displayName: 'Seed User',
          active: true,
        }),
      });
      const seedBody = await seed.text();
      assert.equal(seed.status, 201, `seeding the first user failed: ${seed.status} ${seedBody}`);

      const results = await runRunscope(SPEC_FILE, oktaSpecVariables(server.scimUrl, token));
      const failed = results.filter((r) => !r.passed);
      t.diagnostic(`${results.length - failed.length}/${results.length} SPEC steps passed`);

      assert.ok(results.length > 0, 'the SPEC export has no request steps');
      assert.equal(
        failed.length,
        0,
        `${failed.length} of ${results.length} Okta SPEC steps failed:\n${failed.map(describeFailure).join('\n')}`,
      );
    } finally {
      await server.close();
    }
  });
}
