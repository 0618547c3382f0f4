/**
 * The few SQL forms that differ between SQLite and PostgreSQL: reading the
 * JSON document a row holds, comparing strings exactly, and comparing times.
 * Resource documents are stored as JSON text on both, so what a client reads
 * back is byte for byte what was written.
 */
import { type RawBuilder, sql } from 'kysely';

export type Expr = RawBuilder<unknown>;

/** A place in a JSON document: a base expression and the keys from it down. */
export interface JsonRef {
  base: Expr;
  keys: string[];
  /** True when `base` is one element of an array being iterated (see elements()). */
  element?: boolean;
}

export interface SqlDialect {
  name: 'sqlite' | 'postgres';
  /** The document column of a table, ready for the JSON functions below. */
  doc(table: string): Expr;
  /** The value at a place, as text (strings as they are, other scalars as their JSON text). */
  text(ref: JsonRef): Expr;
  /** True when the value at a place is the JSON boolean `b`. */
  isBool(ref: JsonRef, b: boolean): Expr;
  /** The value at a place as a number, or NULL when it is not one. */
  number(ref: JsonRef): Expr;
  /** The value at a place as an instant, for comparing dateTimes. */
  instant(ref: JsonRef): Expr;
  /** The same for an ISO-8601 parameter. */
  instantParam(iso: string): Expr;
  /** True when something (anything but JSON null) is at a place. */
  exists(ref: JsonRef): Expr;
  /** The length of the array at a place, NULL when it is not an array. */
  arrayLength(ref: JsonRef): Expr;
  /** A FROM item iterating the elements of the array at a place, as `elem`. */
  elements(ref: JsonRef): Expr;
  /** A place naming one element being iterated by elements(). */
  element(): JsonRef;
  /** Exact (case-sensitive) substring tests. */
  contains(value: Expr, needle: string): Expr;
  startsWith(value: Expr, prefix: string): Expr;
  endsWith(value: Expr, suffix: string): Expr;
}

function sqlitePath(keys: string[]): string {
  return '$' + keys.map((k) => `."${k}"`).join('');
}

export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  doc: (table) => sql.ref(`${table}.data`),
  text: (ref) => (ref.element && ref.keys.length === 0 ? ref.base : sql`json_extract(${ref.base}, ${sqlitePath(ref.keys)})`),
  // json_extract gives 1 and 0 for true and false; json_type tells them from numbers.
  isBool: (ref, b) =>
    ref.element && ref.keys.length === 0
      ? sql`(elem.type = ${b ? 'true' : 'false'})`
      : sql`(json_type(${ref.base}, ${sqlitePath(ref.keys)}) = ${b ? 'true' : 'false'})`,
  number: (ref) =>
    ref.element && ref.keys.length === 0
      ? sql`(CASE WHEN elem.type IN ('integer', 'real') THEN elem.value END)`
      : sql`(CASE WHEN json_type(${ref.base}, ${sqlitePath(ref.keys)}) IN ('integer', 'real') THEN json_extract(${ref.base}, ${sqlitePath(ref.keys)}) END)`,
  instant: (ref) => sql`julianday(${sqliteDialect.text(ref)})`,
  instantParam: (iso) => sql`julianday(${iso})`,
  exists: (ref) =>
    ref.element && ref.keys.length === 0
      ? sql`(elem.type <> 'null')`
      : sql`(coalesce(json_type(${ref.base}, ${sqlitePath(ref.keys)}), 'null') <> 'null')`,
  arrayLength: (ref) => sql`json_array_length(${ref.base}, ${sqlitePath(ref.keys)})`,
  elements: (ref) => sql`json_each(${ref.base}, ${sqlitePath(ref.keys)}) AS elem`,
  element: () => ({ base: sql.ref('elem.value'), keys: [], element: true }),
  contains: (value, needle) => sql`(instr(${value}, ${needle}) > 0)`,
  startsWith: (value, prefix) => sql`(substr(${value}, 1, length(${prefix})) = ${prefix})`,
  endsWith: (value, suffix) => sql`(substr(${value}, -length(${suffix})) = ${suffix})`,
};

/** A text[] path parameter for PostgreSQL's #> and #>> operators. */
function pgPath(keys: string[]): Expr {
  return sql`${keys}::text[]`;
}

function pgNode(ref: JsonRef): Expr {
  return ref.keys.length === 0 ? ref.base : sql`(${ref.base} #> ${pgPath(ref.keys)})`;
}

export const postgresDialect: SqlDialect = {
  name: 'postgres',
  doc: (table) => sql`(${sql.ref(`${table}.data`)}::jsonb)`,
  text: (ref) => sql`(${ref.base} #>> ${pgPath(ref.keys)})`,
  isBool: (ref, b) => sql`(${pgNode(ref)} = ${b ? 'true' : 'false'}::jsonb)`,
  number: (ref) => sql`(CASE WHEN jsonb_typeof(${pgNode(ref)}) = 'number' THEN (${ref.base} #>> ${pgPath(ref.keys)})::numeric END)`,
  // Only attributes declared as dateTime reach this, and their values were checked on write.
  instant: (ref) => sql`((${ref.base} #>> ${pgPath(ref.keys)})::timestamptz)`,
  instantParam: (iso) => sql`(${iso}::timestamptz)`,
  exists: (ref) => sql`(coalesce(jsonb_typeof(${pgNode(ref)}), 'null') <> 'null')`,
  arrayLength: (ref) => sql`(CASE WHEN jsonb_typeof(${pgNode(ref)}) = 'array' THEN jsonb_array_length(${pgNode(ref)}) END)`,
  elements: (ref) =>
    sql`jsonb_array_elements(CASE WHEN jsonb_typeof(${pgNode(ref)}) = 'array' THEN ${pgNode(ref)} ELSE '[]'::jsonb END) AS elem(value)`,
  element: () => ({ base: sql.ref('elem.value'), keys: [], element: true }),
  contains: (value, needle) => sql`(strpos(${value}, ${needle}) > 0)`,
  startsWith: (value, prefix) => sql`(left(${value}, length(${prefix})) = ${prefix})`,
  endsWith: (value, suffix) => sql`(right(${value}, length(${suffix})) = ${suffix})`,
};

export function dialectFor(name: 'sqlite' | 'postgres'): SqlDialect {
  return name === 'postgres' ? postgresDialect : sqliteDialect;
}
