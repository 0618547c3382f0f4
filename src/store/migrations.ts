/**
 * Forward-only schema migrations, one definition for every store. Each entry
 * runs once and is recorded in `schema_migrations`.
 */
import { type CreateTableBuilder, type Kysely, type Migration, type MigrationProvider, sql } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

/** A monotonic row number: stable paging order and cursors. */
function withSeq<T extends string>(table: CreateTableBuilder<T, never>, dialect: Dialect): CreateTableBuilder<T, 'seq'> {
  return dialect === 'postgres'
    ? table.addColumn('seq', 'bigserial', (c) => c.primaryKey())
    : table.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement());
}

const migrations = (dialect: Dialect): Record<string, Migration> => ({
  '0001_directory': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('organizations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('provisioning_enabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('username_format', 'text', (c) => c.notNull().defaultTo('email'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('organizations_name').on('organizations').column('name').execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('hint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .addColumn('revoked_at', 'text')
        .execute();
      await db.schema.createIndex('api_tokens_org').on('api_tokens').column('org_id').execute();

      await db.schema
        .createTable('users')
        .$call((t) => withSeq(t, dialect))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
        .addColumn('user_name', 'text', (c) => c.notNull())
        .addColumn('user_name_ci', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('email_ci', 'text')
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();
      // userName is unique per organization without regard to case, among
      // users not deleted: a deleted user's userName is free for a new create.
      await db.schema
        .createIndex('users_org_username_live')
        .on('users')
        .columns(['org_id', 'user_name_ci'])
        .unique()
        .where(sql.ref('deleted_at'), 'is', null)
        .execute();
      await db.schema.createIndex('users_org_seq').on('users').columns(['org_id', 'seq']).execute();
      await db.schema.createIndex('users_org_external_id').on('users').columns(['org_id', 'external_id']).execute();
      await db.schema.createIndex('users_org_email').on('users').columns(['org_id', 'email_ci']).execute();
      await db.schema.createIndex('users_org_updated').on('users').columns(['org_id', 'updated_at']).execute();
      await db.schema.createIndex('users_org_created').on('users').columns(['org_id', 'created_at']).execute();
    },
  },
  '0002_groups': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('groups')
        .$call((t) => withSeq(t, dialect))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
        .addColumn('display_name', 'text', (c) => c.notNull())
        .addColumn('display_name_ci', 'text', (c) => c.notNull())
        .addColumn('external_id', 'text')
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('groups_org_seq').on('groups').columns(['org_id', 'seq']).execute();
      await db.schema.createIndex('groups_org_display_name').on('groups').columns(['org_id', 'display_name_ci']).execute();
      await db.schema.createIndex('groups_org_external_id').on('groups').columns(['org_id', 'external_id']).execute();
      await db.schema.createIndex('groups_org_updated').on('groups').columns(['org_id', 'updated_at']).execute();

      // Membership is a table of its own, so one member changes one row
      // whatever the size of the group.
      await db.schema
        .createTable('group_members')
        .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('org_id', 'text', (c) => c.notNull())
        .addColumn('added_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('group_members_pk', ['group_id', 'user_id'])
        .execute();
      await db.schema.createIndex('group_members_user').on('group_members').columns(['user_id', 'group_id']).execute();
    },
  },
  '0003_events': {
    async up(db: Kysely<any>) {
      // The provisioning log: one row per SCIM request or operator action.
      await db.schema
        .createTable('events')
        .$call((t) => withSeq(t, dialect))
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('org_id', 'text')
        .addColumn('occurred_at', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('token_id', 'text')
        .addColumn('request_id', 'text')
        .addColumn('client_ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('method', 'text')
        .addColumn('path', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('scim_type', 'text')
        .addColumn('reason', 'text')
        .addColumn('target_type', 'text')
        .addColumn('target_id', 'text')
        .addColumn('target_name', 'text')
        .addColumn('duration_ms', 'real')
        .addColumn('search_text', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_org_time').on('events').columns(['org_id', 'occurred_at']).execute();
      await db.schema.createIndex('events_time').on('events').column('occurred_at').execute();
      await db.schema.createIndex('events_org_outcome_time').on('events').columns(['org_id', 'outcome', 'occurred_at']).execute();

      await db.schema
        .createTable('operator_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('hint', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('revoked_at', 'text')
        .execute();
    },
  },
  '0004_live_users_index': {
    async up(db: Kysely<any>) {
      // Paging and counting live users reads only live rows, in seq order.
      await db.schema
        .createIndex('users_org_live_seq')
        .on('users')
        .columns(['org_id', 'seq'])
        .where(sql.ref('deleted_at'), 'is', null)
        .execute();
    },
  },
});

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      return migrations(dialect);
    },
  };
}
