/**
 * SCIM filters (RFC 7644 §3.4.2.2) translated to SQL, so a filtered list never
 * loads an organization into memory. Attributes the store keeps in columns
 * (id, userName, externalId, active, meta dates) use those columns and their
 * indexes; every other attribute is read from the resource's JSON document.
 * Client values only ever reach SQL as parameters.
 */
import { type RawBuilder, sql } from 'kysely';
import { badRequest } from '../scim/errors.js';
import type { AttrPath, CompareOp, Filter, FilterValue } from '../scim/filter.js';
import { type AttributeDef, type ResourceTypeDef, coreAttributes, findAttr, findSchema } from '../scim/schema.js';

type Expr = RawBuilder<unknown>;

/** How one attribute is kept in a column rather than in the JSON document. */
export interface ColumnSpec {
  column: string;
  /** ci: text compared without regard to case, stored lower-cased; exact: compared as is; bool: 0/1; datetime: ISO-8601 UTC text. */
  kind: 'ci' | 'exact' | 'bool' | 'datetime';
}

/** A hook for attributes held outside the resource row (group members, a user's groups). */
export type RelationCompiler = (op: CompareOp | 'pr', value: FilterValue, sub: string) => Expr;

export interface ResourceMapping {
  rt: ResourceTypeDef;
  /** The table (or alias) the resource rows come from. */
  table: string;
  /** Canonical dotted path (`userName`, `meta.created`) → column. */
  columns: Record<string, ColumnSpec>;
  relations?: Record<string, RelationCompiler>;
}

/** A resolved attribute reference: where its value lives and how it compares. */
interface Target {
  def?: AttributeDef;
  sub?: AttributeDef;
  /** JSON keys from the document root down to the attribute. */
  keys: string[];
  canonical: string;
  column?: ColumnSpec;
  relation?: RelationCompiler;
  relationSub?: string;
}

const CORE_URN = /^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i;
const SAFE_KEY = /^[^"\\]+$/;

function invalid(detail: string): never {
  throw badRequest('invalidFilter', detail);
}

function resolveTarget(map: ResourceMapping, path: AttrPath): Target {
  const shown = (path.uri ? `${path.uri}:` : '') + path.attr + (path.sub ? `.${path.sub}` : '');
  let defs: AttributeDef[];
  let prefix: string[] = [];
  if (!path.uri || CORE_URN.test(path.uri)) {
    if (path.uri && findSchema(map.rt, path.uri)?.id !== map.rt.schema.id) invalid(`Attribute "${shown}" belongs to another resource type.`);
    defs = coreAttributes(map.rt);
  } else {
    const schema = findSchema(map.rt, path.uri);
    if (!schema) {
      // An extension the service does not know: its attributes are kept as the IdP sent them.
      if (!SAFE_KEY.test(path.uri)) invalid(`Attribute "${shown}" is not a valid attribute name.`);
      return { keys: [path.uri, path.attr, ...(path.sub ? [path.sub] : [])], canonical: shown };
    }
    defs = schema.attributes;
    prefix = [schema.id];
  }
  const def = findAttr(defs, path.attr);
  if (!def) invalid(`Unknown attribute "${shown}" in filter.`);
  let sub: AttributeDef | undefined;
  if (path.sub) {
    sub = findAttr(def.subAttributes, path.sub);
    if (!sub) invalid(`Unknown attribute "${shown}" in filter.`);
  }
  const canonical = prefix.length === 0 ? def.name + (sub ? `.${sub.name}` : '') : `${prefix[0]}:${def.name}${sub ? `.${sub.name}` : ''}`;
  const relation = map.relations?.[def.name];
  if (relation && prefix.length === 0) return { def, sub, keys: [def.name], canonical, relation, relationSub: sub?.name ?? 'value' };
  // A multi-valued attribute's keys lead to its list; a single complex one's lead to the sub-attribute.
  const keys = sub && !def.multiValued ? [...prefix, def.name, sub.name] : [...prefix, def.name];
  return { def, sub, keys, canonical, column: map.columns[canonical] };
}

function jsonPath(keys: string[]): string {
  return '$' + keys.map((k) => `."${k}"`).join('');
}

/** Builds the SQL for a filter against the mapping's table. */
export function compileFilter(map: ResourceMapping, filter: Filter): Expr {
  return compileNode(map, filter, sql.ref(`${map.table}.data`));
}

function compileNode(map: ResourceMapping, node: Filter, doc: Expr): Expr {
  // and/or chains are left-deep: walk them without recursing on the left side.
  if (node.kind === 'and' || node.kind === 'or') {
    const parts: Filter[] = [];
    let cur: Filter = node;
    const kind = node.kind;
    while (cur.kind === kind) {
      parts.unshift(cur.right);
      cur = cur.left;
    }
    parts.unshift(cur);
    const joiner = kind === 'and' ? sql` AND ` : sql` OR `;
    return sql`(${sql.join(parts.map((p) => compileNode(map, p, doc)), joiner)})`;
  }
  switch (node.kind) {
    case 'not':
      return sql`(NOT coalesce(${compileNode(map, node.filter, doc)}, 0))`;
    case 'present':
      return compileAttr(map, node.path, 'pr', null, doc);
    case 'compare':
      return compileAttr(map, node.path, node.op, node.value, doc);
    case 'valuePath':
      return compileValuePath(map, node.path, node.filter, doc);
  }
}

function compileValuePath(map: ResourceMapping, path: AttrPath, inner: Filter, doc: Expr): Expr {
  const target = resolveTarget(map, path);
  if (target.relation) {
    // Related rows (group members) support one comparison of a sub-attribute.
    if (inner.kind === 'compare') return target.relation(inner.op, inner.value, inner.path.attr);
    if (inner.kind === 'present') return target.relation('pr', null, inner.path.attr);
    invalid(`A filter on "${target.canonical}" takes one comparison of a sub-attribute.`);
  }
  if (!target.def || target.def.type !== 'complex' || !target.def.multiValued) {
    invalid(`"${target.canonical}" is not a multi-valued complex attribute and cannot take a [filter].`);
  }
  const elementMap: ResourceMapping = {
    rt: { ...map.rt, schema: { ...map.rt.schema, attributes: target.def.subAttributes ?? [] }, extensions: [] },
    table: map.table,
    columns: {},
  };
  const el = sql.ref('elem.value');
  return sql`EXISTS (SELECT 1 FROM json_each(${doc}, ${jsonPath(target.keys)}) AS elem WHERE ${compileElement(elementMap, inner, el)})`;
}

/** Inner value-path filters refer to sub-attributes of one element. */
function compileElement(map: ResourceMapping, node: Filter, el: Expr): Expr {
  if (node.kind === 'and' || node.kind === 'or') {
    const joiner = node.kind === 'and' ? sql` AND ` : sql` OR `;
    return sql`(${compileElement(map, node.left, el)}${joiner}${compileElement(map, node.right, el)})`;
  }
  if (node.kind === 'not') return sql`(NOT coalesce(${compileElement(map, node.filter, el)}, 0))`;
  if (node.kind !== 'compare' && node.kind !== 'present') invalid('A [filter] cannot be nested inside another.');
  const def = findAttr(map.rt.schema.attributes, node.path.attr);
  if (!def || node.path.sub || node.path.uri) invalid(`Unknown sub-attribute "${node.path.attr}" in value filter.`);
  const value = sql`json_extract(${el}, ${jsonPath([def.name])})`;
  if (node.kind === 'present') return presentExpr(value, def);
  return comparison(value, def, node.op, node.value);
}

function compileAttr(map: ResourceMapping, path: AttrPath, op: CompareOp | 'pr', value: FilterValue, doc: Expr): Expr {
  if (path.attr.toLowerCase() === 'schemas' && !path.sub && (!path.uri || CORE_URN.test(path.uri))) {
    return compileSchemas(map, op, value, doc);
  }
  const target = resolveTarget(map, path);
  if (target.relation) return target.relation(op, value, target.relationSub ?? 'value');
  if (target.column) return columnComparison(target.column, op, value, target.canonical);
  const leaf = target.sub ?? target.def;
  if (target.def?.multiValued) {
    // Any element matching is a match (RFC 7644 §3.4.2.2). With no sub-attribute
    // named, a multi-valued complex attribute compares its "value".
    const subDef = target.sub ?? (target.def.type === 'complex' ? findAttr(target.def.subAttributes, 'value') : undefined);
    const listKeys = target.keys;
    const el = sql.ref('elem.value');
    if (op === 'pr') {
      if (!target.sub) return sql`(coalesce(json_array_length(${doc}, ${jsonPath(listKeys)}), 0) > 0)`;
    }
    const elementValue = subDef && target.def.type === 'complex' ? sql`json_extract(${el}, ${jsonPath([subDef.name])})` : el;
    const cond = op === 'pr' ? presentExpr(elementValue, subDef) : comparison(elementValue, subDef ?? target.def, op, value);
    const any = sql`EXISTS (SELECT 1 FROM json_each(${doc}, ${jsonPath(listKeys)}) AS elem WHERE ${cond})`;
    // ne matches when any value differs, and (like a missing single value) when there is none.
    if (op === 'ne') return sql`(coalesce(json_array_length(${doc}, ${jsonPath(listKeys)}), 0) = 0 OR ${any})`;
    return any;
  }
  const jsonValue = sql`json_extract(${doc}, ${jsonPath(target.keys)})`;
  if (op === 'pr') return presentExpr(jsonValue, leaf);
  if (leaf?.type === 'complex') invalid(`"${target.canonical}" is a complex attribute: compare one of its sub-attributes.`);
  return comparison(jsonValue, leaf, op, value);
}

function compileSchemas(map: ResourceMapping, op: CompareOp | 'pr', value: FilterValue, doc: Expr): Expr {
  if (op === 'pr') return sql`1`;
  if (op !== 'eq' && op !== 'ne') invalid('Attribute "schemas" can only be compared with eq, ne or pr.');
  if (typeof value !== 'string') invalid('Attribute "schemas" is compared with a schema URN string.');
  let has: Expr;
  if (value.toLowerCase() === map.rt.schema.id.toLowerCase()) has = sql`1`;
  else {
    const ext = findSchema(map.rt, value);
    const key = ext?.id ?? value;
    if (!SAFE_KEY.test(key)) invalid('Attribute "schemas" is compared with a schema URN string.');
    has = sql`(json_type(${doc}, ${jsonPath([key])}) IS NOT NULL)`;
  }
  return op === 'eq' ? has : sql`(NOT ${has})`;
}

function presentExpr(value: Expr, def: AttributeDef | undefined): Expr {
  if (!def || def.type === 'string' || def.type === 'reference' || def.type === 'binary') {
    return sql`(${value} IS NOT NULL AND ${value} <> '')`;
  }
  return sql`(${value} IS NOT NULL)`;
}

const SQL_OPS: Record<'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le', string> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };

/** LIKE pattern for co/sw/ew with the wildcard characters of the value escaped. */
function likePattern(op: 'co' | 'sw' | 'ew', text: string): string {
  const escaped = text.replace(/[\\%_]/g, (c) => `\\${c}`);
  return op === 'co' ? `%${escaped}%` : op === 'sw' ? `${escaped}%` : `%${escaped}`;
}

function normalizeDateTime(value: FilterValue, canonical: string): string {
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) invalid(`"${canonical}" is compared with a dateTime such as "2026-01-31T12:00:00Z".`);
  return new Date(ms).toISOString();
}

function boolValue(value: FilterValue, canonical: string): number {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true' ? 1 : 0;
  invalid(`"${canonical}" is a boolean: compare it with true or false.`);
}

function columnComparison(col: ColumnSpec, op: CompareOp | 'pr', value: FilterValue, canonical: string): Expr {
  const ref = sql.ref(col.column);
  if (op === 'pr') return col.kind === 'ci' || col.kind === 'exact' ? sql`(${ref} IS NOT NULL AND ${ref} <> '')` : sql`(${ref} IS NOT NULL)`;
  if (value === null) return op === 'eq' ? sql`(${ref} IS NULL)` : op === 'ne' ? sql`(${ref} IS NOT NULL)` : invalid(`"${canonical}" cannot be ordered against null.`);
  switch (col.kind) {
    case 'bool': {
      if (op !== 'eq' && op !== 'ne') invalid(`"${canonical}" is a boolean: only eq, ne and pr apply.`);
      return sql`(${ref} ${sql.raw(SQL_OPS[op])} ${boolValue(value, canonical)})`;
    }
    case 'datetime': {
      if (op === 'co' || op === 'sw' || op === 'ew') invalid(`"${canonical}" is a dateTime: use eq, ne, gt, ge, lt or le.`);
      return sql`(${ref} ${sql.raw(SQL_OPS[op])} ${normalizeDateTime(value, canonical)})`;
    }
    case 'ci':
    case 'exact': {
      const text = typeof value === 'string' ? value : String(value);
      const v = col.kind === 'ci' ? text.toLowerCase() : text;
      if (op === 'co' || op === 'sw' || op === 'ew') {
        return sql`(${ref} LIKE ${likePattern(op, v)} ESCAPE '\\'${col.kind === 'exact' ? sql` AND instr(${ref}, ${text}) > 0` : sql``})`;
      }
      if (op === 'ne') return sql`(${ref} IS NULL OR ${ref} <> ${v})`;
      return sql`(${ref} ${sql.raw(SQL_OPS[op])} ${v})`;
    }
  }
}

/**
 * A comparison of a JSON-held value. Strings compare without regard to case
 * unless the attribute is caseExact (RFC 7643 §2.2); dateTimes compare as
 * instants; booleans allow only eq and ne.
 */
function comparison(value: Expr, def: AttributeDef | undefined, op: CompareOp, operand: FilterValue): Expr {
  const name = def?.name ?? 'attribute';
  if (operand === null) {
    if (op === 'eq') return sql`(${value} IS NULL)`;
    if (op === 'ne') return sql`(${value} IS NOT NULL)`;
    invalid(`"${name}" cannot be ordered against null.`);
  }
  const effectiveOp = op;
  const type = def?.type ?? (typeof operand === 'number' ? 'decimal' : typeof operand === 'boolean' ? 'boolean' : 'string');
  if (type === 'boolean') {
    if (effectiveOp !== 'eq' && effectiveOp !== 'ne') invalid(`"${name}" is a boolean: only eq, ne and pr apply.`);
    const b = boolValue(operand, name);
    return effectiveOp === 'eq' ? sql`(${value} = ${b})` : sql`(${value} IS NULL OR ${value} <> ${b})`;
  }
  if (type === 'integer' || type === 'decimal') {
    const n = typeof operand === 'number' ? operand : Number(operand);
    if (!Number.isFinite(n) || effectiveOp === 'co' || effectiveOp === 'sw' || effectiveOp === 'ew') invalid(`"${name}" is a number: compare it with a number.`);
    if (effectiveOp === 'ne') return sql`(${value} IS NULL OR ${value} <> ${n})`;
    return sql`(${value} ${sql.raw(SQL_OPS[effectiveOp as keyof typeof SQL_OPS])} ${n})`;
  }
  if (type === 'complex') invalid(`"${name}" is a complex attribute: compare one of its sub-attributes.`);
  if (typeof operand !== 'string') invalid(`"${name}" is text: compare it with a quoted string.`);
  if (type === 'dateTime' && !['co', 'sw', 'ew'].includes(effectiveOp)) {
    // Stored dateTimes may carry any ISO-8601 form; julianday compares instants.
    const iso = normalizeDateTime(operand, name);
    const cmp = effectiveOp === 'ne' ? '<>' : SQL_OPS[effectiveOp as keyof typeof SQL_OPS];
    return sql`(julianday(${value}) ${sql.raw(cmp)} julianday(${iso}))`;
  }
  const exact = def?.caseExact ?? false;
  const lhs = exact ? value : sql`lower(${value})`;
  const rhs = exact ? operand : operand.toLowerCase();
  switch (effectiveOp) {
    case 'co':
    case 'sw':
    case 'ew':
      return exact
        ? sql`(${lhs} LIKE ${likePattern(effectiveOp, rhs)} ESCAPE '\\' AND ${effectiveOp === 'co' ? sql`instr(${value}, ${rhs}) > 0` : effectiveOp === 'sw' ? sql`substr(${value}, 1, length(${rhs})) = ${rhs}` : sql`substr(${value}, -length(${rhs})) = ${rhs}`})`
        : sql`(${lhs} LIKE ${likePattern(effectiveOp, rhs)} ESCAPE '\\')`;
    case 'ne':
      return sql`(${value} IS NULL OR ${lhs} <> ${rhs})`;
    default:
      return sql`(${lhs} ${sql.raw(SQL_OPS[effectiveOp])} ${rhs})`;
  }
}

/** The SQL a sortBy attribute orders by (RFC 7644 §3.4.2.3); multi-valued attributes sort by their primary value. */
export function compileSortKey(map: ResourceMapping, path: AttrPath): Expr {
  const target = resolveTarget(map, path);
  if (target.relation) invalid(`Cannot sort by "${target.canonical}".`);
  if (target.column) return sql.ref(target.column.column);
  const doc = sql.ref(`${map.table}.data`);
  const leaf = target.sub ?? target.def;
  const fold = (e: Expr) => (leaf && !leaf.caseExact && (leaf.type === 'string' || leaf.type === 'reference') ? sql`lower(${e})` : e);
  if (target.def?.multiValued) {
    const subName = target.sub?.name ?? 'value';
    return sql`(SELECT ${fold(sql`json_extract(elem.value, ${jsonPath([subName])})`)} FROM json_each(${doc}, ${jsonPath(target.keys)}) AS elem ORDER BY coalesce(json_extract(elem.value, '$.primary'), 0) DESC LIMIT 1)`;
  }
  if (leaf?.type === 'complex') invalid(`Cannot sort by the complex attribute "${target.canonical}".`);
  return fold(sql`json_extract(${doc}, ${jsonPath(target.keys)})`);
}
