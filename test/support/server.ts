/** A real server on a free port with a fresh SQLite store, for HTTP and conformance tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config.js';
import { createOrganization } from '../../src/directory/organizations.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { createTestDatabase, testStoreIsPostgres } from './postgres.js';

export interface TestServer {
  baseUrl: string;
  scimUrl: string;
  server: RunningServer;
  createOrg(opts?: { name?: string; usernameFormat?: 'email' | 'any'; provisioning?: boolean }): Promise<{ orgId: string; token: string }>;
  close(): Promise<void>;
}

/**
 * Starts a server on a fresh store: a SQLite file, or with
 * PLUMM_TEST_STORE=postgres a new PostgreSQL database (unless env names a
 * DATABASE_URL of its own).
 */
export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'plumm-scim-test-'));
  const pgDb = testStoreIsPostgres() && !env.DATABASE_URL ? await createTestDatabase() : undefined;
  const databaseUrl = pgDb?.url ?? join(dir, 'test.db');
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
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
      await pgDb?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
