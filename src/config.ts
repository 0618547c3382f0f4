/** Runtime configuration, read once from the environment. */

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  logLevel: string;
  /** Public base URL used in `meta.location`; when unset it is derived from each request. */
  publicUrl?: string;
  /** Largest SCIM request body accepted, in bytes. */
  bodyLimit: number;
  pgPoolSize: number;
  /** Record every SCIM request in the provisioning log (off only for measuring its cost). */
  provisioningLog: boolean;
  /**
   * Which proxies' X-Forwarded-* headers to believe: false (none, the
   * default), a number of hops, or addresses/CIDRs. See docs/operations.md.
   */
  trustProxy: boolean | number | string;
  /** Failed authentications one address may make a minute before each further one is delayed. */
  authFailuresFreePerMinute: number;
  /** SCIM requests one token may make a minute; Entra alone may send 25 a second. */
  rateLimitPerMinute: number;
  /** Provisioning-log events older than this many days are deleted. */
  eventRetentionDays: number;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return n;
}

function parseTrustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw.trim() === '' || /^(false|no|off|0)$/i.test(raw.trim())) return false;
  if (/^(true|yes|on)$/i.test(raw.trim())) return true;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim());
  return raw.trim();
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: intFromEnv(env, 'PORT', 8080),
    host: env.HOST || '127.0.0.1',
    databaseUrl: env.DATABASE_URL || './data/plumm.db',
    logLevel: env.LOG_LEVEL || 'info',
    publicUrl: env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : undefined,
    bodyLimit: intFromEnv(env, 'SCIM_BODY_LIMIT', 1024 * 1024),
    pgPoolSize: intFromEnv(env, 'PG_POOL_SIZE', 10),
    provisioningLog: !/^(off|false|0|no)$/i.test(env.PROVISIONING_LOG ?? ''),
    eventRetentionDays: intFromEnv(env, 'EVENT_RETENTION_DAYS', 90),
    rateLimitPerMinute: intFromEnv(env, 'SCIM_RATE_LIMIT_PER_MINUTE', 12_000),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    authFailuresFreePerMinute: intFromEnv(env, 'SCIM_AUTH_FAILURES_PER_MINUTE', 10),
  };
}
