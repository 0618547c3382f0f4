/** User rows: the resource document plus the columns that filters, uniqueness and paging use. */
import type { Kysely } from 'kysely';
import type { JsonObject } from '../scim/resource.js';
import { userResourceType } from '../scim/schema.js';
import type { Database, UserTable } from './db.js';
import { type SqlDialect, sqliteDialect } from './dialect.js';
import type { ResourceMapping } from './filter-sql.js';
import { type ListQuery, listPage } from './list.js';
import { userGroupsRelation } from './groups.js';

export const userMapping: ResourceMapping & { table: 'users' } = {
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

export type { ListQuery } from './list.js';

export async function listUsers(
  db: Kysely<Database>,
  orgId: string,
  q: ListQuery,
  dialect: SqlDialect = sqliteDialect,
): Promise<{ total: number; rows: UserRow[] }> {
  return listPage<UserRow>(db, userMapping, orgId, q, dialect);
}
