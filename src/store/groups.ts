/** Group rows and the membership table. */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { badRequest } from '../scim/errors.js';
import type { CompareOp, FilterValue } from '../scim/filter.js';
import { groupResourceType } from '../scim/schema.js';
import { type Database, type GroupTable, isResourceId } from './db.js';
import { type SqlDialect, sqliteDialect } from './dialect.js';
import type { ResourceMapping } from './filter-sql.js';
import { type ListQuery, listPage } from './list.js';

type Expr = RawBuilder<unknown>;

/** SQLite takes at most 32,766 parameters a statement; batches stay far below. */
const BATCH = 500;

function chunks<T>(items: T[], size = BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A membership comparison on the value (id) of the related row; only equality and presence make sense for ids. */
function idComparison(what: string, op: CompareOp | 'pr', value: FilterValue, sub: string, exists: (cond: Expr | undefined) => Expr): Expr {
  if (sub.toLowerCase() !== 'value') throw badRequest('invalidFilter', `Filtering on ${what}.${sub} is not supported; filter on ${what}.value.`);
  if (op === 'pr') return exists(undefined);
  if (typeof value !== 'string') throw badRequest('invalidFilter', `${what}.value is compared with a quoted id.`);
  if (op === 'eq') return exists(sql`${value}`);
  if (op === 'ne') return sql`(NOT ${exists(sql`${value}`)})`;
  throw badRequest('invalidFilter', `${what}.value supports eq, ne and pr.`);
}

export const groupMapping: ResourceMapping & { table: 'groups' } = {
  rt: groupResourceType,
  table: 'groups',
  columns: {
    id: { column: 'groups.id', kind: 'exact' },
    externalId: { column: 'groups.external_id', kind: 'exact' },
    displayName: { column: 'groups.display_name_ci', kind: 'ci' },
    'meta.created': { column: 'groups.created_at', kind: 'datetime' },
    'meta.lastModified': { column: 'groups.updated_at', kind: 'datetime' },
  },
  relations: {
    members: (op, value, sub) =>
      idComparison('members', op, value, sub, (id) =>
        id
          ? sql`EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = groups.id AND gm.user_id = ${id})`
          : sql`EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = groups.id)`,
      ),
  },
};

/** users.groups, a read-only attribute backed by the membership table. */
export const userGroupsRelation = (op: CompareOp | 'pr', value: FilterValue, sub: string): Expr =>
  idComparison('groups', op, value, sub, (id) =>
    id
      ? sql`EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = users.id AND gm.group_id = ${id})`
      : sql`EXISTS (SELECT 1 FROM group_members gm WHERE gm.user_id = users.id)`,
  );

export type GroupRow = Omit<GroupTable, 'seq'> & { seq?: number };

export async function insertGroup(db: Kysely<Database>, row: GroupRow): Promise<void> {
  await db.insertInto('groups').values(row).execute();
}

export async function findGroup(db: Kysely<Database>, orgId: string, id: string): Promise<GroupRow | undefined> {
  return db.selectFrom('groups').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
}

export async function updateGroupIfVersion(
  db: Kysely<Database>,
  orgId: string,
  id: string,
  version: number,
  fields: Pick<GroupTable, 'display_name' | 'display_name_ci' | 'external_id' | 'data'>,
  now: string,
): Promise<boolean> {
  const result = await db
    .updateTable('groups')
    .set({ ...fields, version: version + 1, updated_at: now })
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .where('version', '=', version)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A membership change made the group newer; concurrent changes each add one. */
export async function touchGroup(db: Kysely<Database>, orgId: string, id: string, now: string, expectedVersion?: number): Promise<boolean> {
  let query = db
    .updateTable('groups')
    .set((eb) => ({ version: eb('version', '+', 1), updated_at: now }))
    .where('org_id', '=', orgId)
    .where('id', '=', id);
  // With If-Match the change must apply to the version the client saw.
  if (expectedVersion !== undefined) query = query.where('version', '=', expectedVersion);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function deleteGroup(db: Kysely<Database>, orgId: string, id: string): Promise<boolean> {
  await db.deleteFrom('group_members').where('group_id', '=', id).where('org_id', '=', orgId).execute();
  const result = await db.deleteFrom('groups').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** The ids among `ids` that are live users of the organization. */
export async function liveUserIds(db: Kysely<Database>, orgId: string, ids: string[], lock = false): Promise<Set<string>> {
  const found = new Set<string>();
  const candidates = [...new Set(ids)].filter(isResourceId);
  for (const batch of chunks(candidates)) {
    // Look up by the unique id alone (a filter on org_id makes SQLite scan the
    // organization); organization and liveness are checked here.
    let query = db.selectFrom('users').select(['id', 'org_id', 'deleted_at']).where('id', 'in', batch);
    // On PostgreSQL, hold the users until the membership is written: a
    // concurrent DELETE of one of them then waits, and removes it after us.
    if (lock) query = query.forShare();
    const rows = await query.execute();
    for (const r of rows) if (r.org_id === orgId && r.deleted_at === null) found.add(r.id);
  }
  return found;
}

export async function addMembers(db: Kysely<Database>, orgId: string, groupId: string, userIds: string[], now: string): Promise<void> {
  for (const batch of chunks([...new Set(userIds)])) {
    await db
      .insertInto('group_members')
      .values(batch.map((user_id) => ({ group_id: groupId, user_id, org_id: orgId, added_at: now })))
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
      .execute();
  }
}

export async function removeMembers(db: Kysely<Database>, groupId: string, userIds: string[]): Promise<void> {
  for (const batch of chunks([...new Set(userIds)])) {
    await db.deleteFrom('group_members').where('group_id', '=', groupId).where('user_id', 'in', batch).execute();
  }
}

export async function removeAllMembers(db: Kysely<Database>, groupId: string): Promise<void> {
  await db.deleteFrom('group_members').where('group_id', '=', groupId).execute();
}

/** Removes a user from every group (user deleted or purged). */
export async function removeUserEverywhere(db: Kysely<Database>, orgId: string, userId: string): Promise<string[]> {
  const groups = await db.selectFrom('group_members').select('group_id').where('user_id', '=', userId).where('org_id', '=', orgId).execute();
  await db.deleteFrom('group_members').where('user_id', '=', userId).where('org_id', '=', orgId).execute();
  const ids = groups.map((g) => g.group_id);
  // The groups' member lists changed, so their versions (ETags) must too.
  const now = new Date().toISOString();
  for (const batch of chunks(ids)) {
    await db
      .updateTable('groups')
      .set((eb) => ({ version: eb('version', '+', 1), updated_at: now }))
      .where('org_id', '=', orgId)
      .where('id', 'in', batch)
      .execute();
  }
  return ids;
}

export interface MemberRow {
  user_id: string;
  user_name: string;
  data: string;
}

/** Members of one group, in the order they joined (then by user). */
export async function listMembers(db: Kysely<Database>, groupId: string, dialect: SqlDialect = sqliteDialect): Promise<{ id: string; display: string }[]> {
  const rows = await db
    .selectFrom('group_members as gm')
    .innerJoin('users as u', 'u.id', 'gm.user_id')
    .select(['gm.user_id as id', 'u.user_name as userName', sql<string | null>`${dialect.text({ base: dialect.doc('u'), keys: ['displayName'] })}`.as('displayName')])
    .where('gm.group_id', '=', groupId)
    .orderBy('gm.added_at')
    .orderBy('u.seq')
    .execute();
  return rows.map((r) => ({ id: r.id, display: r.displayName ?? r.userName }));
}

/** The groups of each of the given users. */
export async function groupsOfUsers(db: Kysely<Database>, userIds: string[]): Promise<Map<string, { id: string; display: string }[]>> {
  const out = new Map<string, { id: string; display: string }[]>();
  for (const batch of chunks(userIds)) {
    if (batch.length === 0) continue;
    const rows = await db
      .selectFrom('group_members as gm')
      .innerJoin('groups as g', 'g.id', 'gm.group_id')
      .select(['gm.user_id', 'g.id', 'g.display_name'])
      .where('gm.user_id', 'in', batch)
      .orderBy('g.seq')
      .execute();
    for (const r of rows) {
      const list = out.get(r.user_id) ?? [];
      list.push({ id: r.id, display: r.display_name });
      out.set(r.user_id, list);
    }
  }
  return out;
}

export async function listGroups(
  db: Kysely<Database>,
  orgId: string,
  q: ListQuery,
  dialect: SqlDialect = sqliteDialect,
): Promise<{ total: number; rows: GroupRow[] }> {
  return listPage<GroupRow>(db, groupMapping, orgId, q, dialect);
}
