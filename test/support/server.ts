/** A real server on a free port with a fresh SQLite store, for HTTP and conformance tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { createOrganization } from '../../src/directory/organizations.js';
import { type RunningServer, startServer } from '../../src/server.js';

export interface TestServer {
  baseUrl: string;
  scimUrl: string;
  server: RunningServer;
  createOrg(opts?: { name?: string; usernameFormat?: 'email' | 'any'; provisioning?: boolean }): Promise<{ orgId: string; token: string }>;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'plumm-scim-test-'));
  const config = loadConfig({ DATABASE_URL: join(dir, 'test.db'), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  const server = await startServer(config, { quiet: true });
  let orgCount = 0;
  return {
    baseUrl: server.url,
    scimUrl: `${server.url}/scim/v2`,
    server,
    async createOrg(opts = {}) {
      const org = await createOrganization(server.store.db, {
        name: opts.name ?? `Test organization ${++orgCount}`,
        provisioningEnabled: opts.provisioning ?? true,
        usernameFormat: opts.usernameFormat ?? 'email',
      });
      const { token } = await issueToken(server.store.db, org.id);
      return { orgId: org.id, token };
    },
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
