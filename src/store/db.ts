/**
 * The store: a Kysely instance over SQLite (better-sqlite3) or PostgreSQL
 * (pg), chosen by DATABASE_URL, with the schema migrated on open.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Generated, sql } from 'kysely';
import pg from 'pg';
import { type SqlDialect, postgresDialect, sqliteDialect } from './dialect.js';
import { migrationProvider } from './migrations.js';

export interface OrganizationTable {
  id: string;
  name: string;
  provisioning_enabled: number;
  username_format: string;
  created_at: string;
}

export interface ApiTokenTable {
  id: string;
  org_id: string;
  hash: string;
  hint: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface UserTable {
  seq: Generated<number>;
  id: string;
  org_id: string;
  user_name: string;
  user_name_ci: string;
  external_id: string | null;
  email_ci: string | null;
  active: number;
  data: string;
  version: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface GroupTable {
  seq: Generated<number>;
  id: string;
  org_id: string;
  display_name: string;
  display_name_ci: string;
  external_id: string | null;
  data: string;
  version: number;
  created_at: string;
  updated_at: string;
}

export interface GroupMemberTable {
  group_id: string;
  user_id: string;
  org_id: string;
  added_at: string;
}

export interface EventTable {
  seq: Generated<number>;
  id: string;
  org_id: string | null;
  occurred_at: string;
  actor: string;
  token_id: string | null;
  request_id: string | null;
  client_ip: string | null;
  user_agent: string | null;
  method: string | null;
  path: string | null;
  action: string;
  outcome: string;
  status: number | null;
  scim_type: string | null;
  reason: string | null;
  target_type: string | null;
  target_id: string | null;
  target_name: string | null;
  duration_ms: number | null;
  search_text: string;
}

export interface OperatorTokenTable {
  id: string;
  name: string;
  hash: string;
  hint: string;
  created_at: string;
  revoked_at: string | null;
}

export interface Database {
  events: EventTable;
  operator_tokens: OperatorTokenTable;
  organizations: OrganizationTable;
  api_tokens: ApiTokenTable;
  users: UserTable;
  groups: GroupTable;
  group_members: GroupMemberTable;
}

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  /** The SQL forms that differ between the two stores. */
  sql: SqlDialect;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** PostgreSQL connections per instance. */
  poolSize?: number;
}

const RESOURCE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a string shaped like the ids this service issues (UUIDs); anything else names nothing. */
export function isResourceId(id: string): boolean {
  return RESOURCE_ID.test(id);
}

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The SQLite file a DATABASE_URL names (`./x.db`, `sqlite:./x.db`, `sqlite:///abs/x.db`, `:memory:`). */
export function sqlitePath(url: string): string {
  let path = url.replace(/^sqlite:(\/\/)?/i, '');
  if (path === '' || path === ':memory:') return ':memory:';
  return resolve(path);
}

export async function openStore(url: string, opts: StoreOptions = {}): Promise<Store> {
  if (isPostgresUrl(url)) return openPostgres(url, opts);
  const path = sqlitePath(url);
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const sqlite = new SqliteDatabase(path);
  // WAL lets readers run beside the writer; synchronous=FULL makes every
  // acknowledged commit durable even if the machine loses power.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db, 'sqlite');
  return { db, dialect: 'sqlite', sql: sqliteDialect, close: () => db.destroy() };
}

/** Any key will do, as long as every instance uses the same one. */
const MIGRATION_LOCK_KEY = 7_406_151_209;

async function openPostgres(url: string, opts: StoreOptions): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: opts.poolSize ?? 10 });
  // A pool error (a server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    // Instances starting together take turns: the first migrates, the rest find nothing to do.
    await db.connection().execute(async (conn) => {
      await sql`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
      try {
        await migrate(conn, 'postgres');
      } finally {
        await sql`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.execute(conn);
      }
    });
  } catch (err) {
    await db.destroy();
    throw err;
  }
  return { db, dialect: 'postgres', sql: postgresDialect, close: () => db.destroy() };
}

async function migrate(db: Kysely<Database>, dialect: Dialect): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: migrationProvider(dialect),
    migrationTableName: 'schema_migrations',
    migrationLockTableName: 'schema_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error;
}
