/**
 * One filtered, sorted, counted page of resources (RFC 7644 §3.4.2), for
 * users and groups alike.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { AttrPath, Filter } from '../scim/filter.js';
import type { Database } from './db.js';
import type { SqlDialect } from './dialect.js';
import { type ResourceMapping, compileFilter, compileSortKey } from './filter-sql.js';

export interface ListQuery {
  filter?: Filter;
  sortBy?: AttrPath;
  descending?: boolean;
  /** 1-based index of the first result. */
  startIndex: number;
  count: number;
}

/**
 * Counts the matches, then reads one page. With no sortBy the order is
 * creation (seq): the page's seqs are found first (an index-only walk, cheap
 * even for an import's deep pages), then its rows are read by seq.
 */
export async function listPage<Row>(
  db: Kysely<Database>,
  map: ResourceMapping & { table: 'users' | 'groups' },
  orgId: string,
  q: ListQuery,
  dialect: SqlDialect,
): Promise<{ total: number; rows: Row[] }> {
  const t = map.table;
  // The two tables share the columns used here; Kysely cannot type a table chosen at run time.
  const k = db as unknown as Kysely<any>;
  let base = k.selectFrom(t).where(`${t}.org_id`, '=', orgId);
  if (t === 'users') base = base.where('users.deleted_at', 'is', null);
  if (q.filter) base = base.where(compileFilter(map, q.filter, dialect) as RawBuilder<boolean>);
  const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const total = Number(n);
  if (q.count === 0 || q.startIndex > total) return { total, rows: [] };
  if (q.sortBy) {
    const key = compileSortKey(map, q.sortBy, dialect);
    // Unassigned values sort last in either direction; seq keeps ties stable.
    const rows = await base
      .selectAll(t)
      .orderBy(sql`${key} IS NULL`)
      .orderBy(key, q.descending ? 'desc' : 'asc')
      .orderBy(`${t}.seq`)
      .limit(q.count)
      .offset(q.startIndex - 1)
      .execute();
    return { total, rows: rows as Row[] };
  }
  const seqs = base.select(`${t}.seq`).orderBy(`${t}.seq`).limit(q.count).offset(q.startIndex - 1);
  const rows = await k.selectFrom(t).selectAll().where(`${t}.seq`, 'in', seqs).orderBy(`${t}.seq`).execute();
  return { total, rows: rows as Row[] };
}
