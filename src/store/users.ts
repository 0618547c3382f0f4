/** User rows: the resource document plus the columns that filters, uniqueness and paging use. */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { AttrPath, Filter } from '../scim/filter.js';
import type { JsonObject } from '../scim/resource.js';
import { userResourceType } from '../scim/schema.js';
import type { Database, UserTable } from './db.js';
import { type SqlDialect, sqliteDialect } from './dialect.js';
import { type ResourceMapping, compileFilter, compileSortKey } from './filter-sql.js';
import { userGroupsRelation } from './groups.js';

export const userMapping: ResourceMapping = {
  rt: userResourceType,
  table: 'users',
  columns: {
    id: { column: 'users.id', kind: 'exact' },
    externalId: { column: 'users.external_id', kind: 'exact' },
    userName: { column: 'users.user_name_ci', kind: 'ci' },
    active: { column: 'users.active', kind: 'bool' },
    'meta.created': { column: 'users.created_at', kind: 'datetime' },
    'meta.lastModified': { column: 'users.updated_at', kind: 'datetime' },
  },
  relations: { groups: userGroupsRelation },
};

export type UserRow = Omit<UserTable, 'seq'> & { seq?: number };

export interface UserFields {
  userName: string;
  externalId: string | null;
  signInEmail: string | null;
  active: boolean;
  data: JsonObject;
}

/** userName comparison form: Unicode-composed (NFC), then lower case, so "Zoë" is one name however it is encoded. */
export function foldCase(text: string): string {
  return text.normalize('NFC').toLowerCase();
}

export function toColumns(fields: UserFields) {
  return {
    user_name: fields.userName,
    user_name_ci: foldCase(fields.userName),
    external_id: fields.externalId,
    email_ci: fields.signInEmail ? fields.signInEmail.toLowerCase() : null,
    active: fields.active ? 1 : 0,
    data: JSON.stringify(fields.data),
  };
}

export async function insertUser(db: Kysely<Database>, row: UserRow): Promise<void> {
  await db.insertInto('users').values(row).execute();
}

export async function findLiveUser(db: Kysely<Database>, orgId: string, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('org_id', '=', orgId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
}

export async function findAnyUser(db: Kysely<Database>, orgId: string, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
}

/** Writes new fields when the row is still at `version`; false when another writer got there first. */
export async function updateUserIfVersion(
  db: Kysely<Database>,
  orgId: string,
  id: string,
  version: number,
  fields: ReturnType<typeof toColumns>,
  now: string,
): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ ...fields, version: version + 1, updated_at: now })
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .where('version', '=', version)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function softDeleteUser(db: Kysely<Database>, orgId: string, id: string, version: number, now: string): Promise<boolean> {
  const result = await db
    .updateTable('users')
    .set({ deleted_at: now, updated_at: now, active: 0, version: version + 1 })
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .where('version', '=', version)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function purgeUser(db: Kysely<Database>, orgId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('users').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

export interface ListQuery {
  filter?: Filter;
  sortBy?: AttrPath;
  descending?: boolean;
  /** 1-based index of the first result. */
  startIndex: number;
  count: number;
}

export async function listUsers(
  db: Kysely<Database>,
  orgId: string,
  q: ListQuery,
  dialect: SqlDialect = sqliteDialect,
): Promise<{ total: number; rows: UserRow[] }> {
  const where: RawBuilder<unknown> | undefined = q.filter ? compileFilter(userMapping, q.filter, dialect) : undefined;
  let base = db.selectFrom('users').where('users.org_id', '=', orgId).where('users.deleted_at', 'is', null);
  if (where) base = base.where(where as RawBuilder<boolean>);
  const totalRow = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const total = Number(totalRow.n);
  if (q.count === 0 || q.startIndex > total) return { total, rows: [] };
  if (q.sortBy) {
    const key = compileSortKey(userMapping, q.sortBy, dialect);
    // Unassigned values sort last in either direction; seq keeps ties stable.
    const rows = await base
      .selectAll('users')
      .orderBy(sql`${key} IS NULL`)
      .orderBy(key, q.descending ? 'desc' : 'asc')
      .orderBy('users.seq')
      .limit(q.count)
      .offset(q.startIndex - 1)
      .execute();
    return { total, rows };
  }
  // In creation order, skip rows by seq alone (an index-only walk for an
  // import's deep pages), then read the page's rows by seq.
  const seqs = base.select('users.seq').orderBy('users.seq').limit(q.count).offset(q.startIndex - 1);
  const rows = await db.selectFrom('users').selectAll().where('users.seq', 'in', seqs).orderBy('users.seq').execute();
  return { total, rows };
}
