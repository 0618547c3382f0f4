/** Starting and stopping the service: store, app, first-run demo organization, signals. */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { issueToken } from './auth/tokens.js';
import type { Config } from './config.js';
import { createOrganization, listOrganizations } from './directory/organizations.js';
import { deleteOlderThan } from './events/log.js';
import { buildApp } from './http/app.js';
import { loggerOptions } from './logger.js';
import { type Store, openStore } from './store/db.js';

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  url: string;
  close(): Promise<void>;
}

/**
 * On the first start with an empty store, creates a demo organization with
 * provisioning on and a token, so a newcomer can point an IdP or curl at it.
 * Returns the token once; it is never stored in clear.
 */
export async function seedDemo(store: Store): Promise<{ orgId: string; token: string } | undefined> {
  return store.db.transaction().execute(async (trx) => {
    // Instances starting together on an empty PostgreSQL database take turns, so only one seeds.
    if (store.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${DEMO_SEED_LOCK_KEY})`.execute(trx);
    if ((await listOrganizations(trx)).length > 0) return undefined;
    const org = await createOrganization(trx, { name: 'Demo organization', provisioningEnabled: true });
    const { token } = await issueToken(trx, org.id);
    return { orgId: org.id, token };
  });
}

const DEMO_SEED_LOCK_KEY = 7_406_151_210;

export async function startServer(config: Config, opts: { seed?: boolean; quiet?: boolean } = {}): Promise<RunningServer> {
  const store = await openStore(config.databaseUrl, { poolSize: config.pgPoolSize });
  const app = await buildApp({ store, config, logger: opts.quiet ? false : loggerOptions(config.logLevel) });
  const demo = opts.seed ? await seedDemo(store) : undefined;
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  if (demo) {
    // Printed once to the terminal, never to the log.
    process.stdout.write(
      [
        '',
        'Created a demo organization with provisioning enabled.',
        `  SCIM base URL: ${config.publicUrl ?? url}/scim/v2`,
        `  API token:     ${demo.token}`,
        'Keep the token: it is shown only this once.',
        '',
      ].join('\n') + '\n',
    );
  }
  // Retention: drop provisioning-log events past their age, now and every hour.
  const prune = async () => {
    try {
      const removed = await deleteOlderThan(store.db, config.eventRetentionDays);
      if (removed > 0) app.log.info({ removed, days: config.eventRetentionDays }, 'provisioning log pruned');
    } catch (err) {
      app.log.error({ err }, 'provisioning log pruning failed');
    }
  };
  void prune();
  const retention = setInterval(() => void prune(), 3_600_000);
  retention.unref();
  let closed = false;
  return {
    app,
    store,
    url,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(retention);
      await app.close();
      await store.close();
    },
  };
}
