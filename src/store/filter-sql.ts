/**
 * SCIM filters (RFC 7644 §3.4.2.2) translated to SQL, so a filtered list never
 * loads an organization into memory. Attributes the store keeps in columns
 * (id, userName, externalId, active, meta dates) use those columns and their
 * indexes; every other attribute is read from the resource's JSON document
 * through the dialect's JSON functions. Client values only ever reach SQL as
 * parameters.
 */
import { sql } from 'kysely';
import { badRequest } from '../scim/errors.js';
import type { AttrPath, CompareOp, Filter, FilterValue } from '../scim/filter.js';
import { type AttributeDef, type ResourceTypeDef, coreAttributes, findAttr, findSchema, isCoreSchemaUrn } from '../scim/schema.js';
import { type Expr, type JsonRef, type SqlDialect, sqliteDialect } from './dialect.js';

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
  /** JSON keys from the document root down to the attribute (to the list, for a multi-valued one). */
  keys: string[];
  canonical: string;
  column?: ColumnSpec;
  relation?: RelationCompiler;
  relationSub?: string;
  /** A value the same for every row (meta.resourceType). */
  constant?: string;
}

const SAFE_KEY = /^[^"\\]+$/;

function invalid(detail: string): never {
  throw badRequest('invalidFilter', detail);
}

function resolveTarget(map: ResourceMapping, path: AttrPath): Target {
  const shown = (path.uri ? `${path.uri}:` : '') + path.attr + (path.sub ? `.${path.sub}` : '');
  let defs: AttributeDef[];
  let prefix: string[] = [];
  if (!path.uri || isCoreSchemaUrn(path.uri)) {
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
  if (canonical === 'meta.resourceType') return { def, sub, keys: [], canonical, constant: map.rt.name };
  if (canonical === 'meta.location' || canonical === 'meta.version') {
    invalid(`Filtering and sorting on ${canonical} are not supported; use id, or meta.lastModified.`);
  }
  const relation = map.relations?.[def.name];
  if (relation && prefix.length === 0) return { def, sub, keys: [def.name], canonical, relation, relationSub: sub?.name ?? 'value' };
  // A multi-valued attribute's keys lead to its list; a single complex one's lead to the sub-attribute.
  const keys = sub && !def.multiValued ? [...prefix, def.name, sub.name] : [...prefix, def.name];
  return { def, sub, keys, canonical, column: map.columns[canonical] };
}

/** Compiles filters for one resource mapping in one SQL dialect. */
class FilterCompiler {
  constructor(
    private readonly map: ResourceMapping,
    private readonly d: SqlDialect,
  ) {}

  private get doc(): Expr {
    return this.d.doc(this.map.table);
  }

  compile(node: Filter): Expr {
    // and/or chains are left-deep: walk them without recursing on the left side.
    if (node.kind === 'and' || node.kind === 'or') {
      const kind = node.kind;
      const parts: Filter[] = [];
      let cur: Filter = node;
      while (cur.kind === kind) {
        parts.unshift(cur.right);
        cur = cur.left;
      }
      parts.unshift(cur);
      return sql`(${sql.join(parts.map((p) => this.compile(p)), kind === 'and' ? sql` AND ` : sql` OR `)})`;
    }
    switch (node.kind) {
      case 'not':
        return sql`(NOT coalesce(${this.compile(node.filter)}, FALSE))`;
      case 'present':
        return this.attr(node.path, 'pr', null);
      case 'compare':
        return this.attr(node.path, node.op, node.value);
      case 'valuePath':
        return this.valuePath(node.path, node.filter);
    }
  }

  private valuePath(path: AttrPath, inner: Filter): Expr {
    const target = resolveTarget(this.map, path);
    if (target.relation) {
      // Related rows (group members) support one comparison of a sub-attribute.
      if (inner.kind === 'compare') return target.relation(inner.op, inner.value, inner.path.attr);
      if (inner.kind === 'present') return target.relation('pr', null, inner.path.attr);
      invalid(`A filter on "${target.canonical}" takes one comparison of a sub-attribute.`);
    }
    if (!target.def || target.def.type !== 'complex' || !target.def.multiValued) {
      invalid(`"${target.canonical}" is not a multi-valued complex attribute and cannot take a [filter].`);
    }
    const subs = target.def.subAttributes ?? [];
    const list = { base: this.doc, keys: target.keys };
    return sql`EXISTS (SELECT 1 FROM ${this.d.elements(list)} WHERE ${this.element(subs, inner)})`;
  }

  /** Inner value-path filters refer to sub-attributes of one element. */
  private element(subs: AttributeDef[], node: Filter): Expr {
    if (node.kind === 'and' || node.kind === 'or') {
      return sql`(${this.element(subs, node.left)}${node.kind === 'and' ? sql` AND ` : sql` OR `}${this.element(subs, node.right)})`;
    }
    if (node.kind === 'not') return sql`(NOT coalesce(${this.element(subs, node.filter)}, FALSE))`;
    if (node.kind !== 'compare' && node.kind !== 'present') invalid('A [filter] cannot be nested inside another.');
    const def = findAttr(subs, node.path.attr);
    if (!def || node.path.sub || node.path.uri) invalid(`Unknown sub-attribute "${node.path.attr}" in value filter.`);
    const ref: JsonRef = { ...this.d.element(), keys: [def.name] };
    if (node.kind === 'present') return this.present(ref, def);
    return this.comparison(ref, def, node.op, node.value);
  }

  private attr(path: AttrPath, op: CompareOp | 'pr', value: FilterValue): Expr {
    if (path.attr.toLowerCase() === 'schemas' && !path.sub && (!path.uri || isCoreSchemaUrn(path.uri))) {
      return this.schemas(op, value);
    }
    const target = resolveTarget(this.map, path);
    if (target.relation) return target.relation(op, value, target.relationSub ?? 'value');
    if (target.constant !== undefined) return constantComparison(target.constant, op, value);
    if (target.column) return columnComparison(this.d, target.column, op, value, target.canonical);
    const leaf = target.sub ?? target.def;
    const ref: JsonRef = { base: this.doc, keys: target.keys };
    if (target.def?.multiValued) {
      // Any element matching is a match (RFC 7644 §3.4.2.2). With no sub-attribute
      // named, a multi-valued complex attribute compares its "value".
      if (op === 'pr' && !target.sub) return sql`(coalesce(${this.d.arrayLength(ref)}, 0) > 0)`;
      const subDef = target.sub ?? (target.def.type === 'complex' ? findAttr(target.def.subAttributes, 'value') : undefined);
      const el: JsonRef = target.def.type === 'complex' && subDef ? { ...this.d.element(), keys: [subDef.name] } : this.d.element();
      const cond = op === 'pr' ? this.present(el, subDef) : this.comparison(el, subDef ?? target.def, op, value);
      const any = sql`EXISTS (SELECT 1 FROM ${this.d.elements(ref)} WHERE ${cond})`;
      // ne matches when any value differs, and (like a missing single value) when there is none.
      if (op === 'ne') return sql`(coalesce(${this.d.arrayLength(ref)}, 0) = 0 OR ${any})`;
      return any;
    }
    if (op === 'pr') return this.present(ref, leaf);
    if (leaf?.type === 'complex') invalid(`"${target.canonical}" is a complex attribute: compare one of its sub-attributes.`);
    return this.comparison(ref, leaf, op, value);
  }

  private schemas(op: CompareOp | 'pr', value: FilterValue): Expr {
    if (op === 'pr') return sql`TRUE`;
    if (op !== 'eq' && op !== 'ne') invalid('Attribute "schemas" can only be compared with eq, ne or pr.');
    if (typeof value !== 'string') invalid('Attribute "schemas" is compared with a schema URN string.');
    let has: Expr;
    if (value.toLowerCase() === this.map.rt.schema.id.toLowerCase()) has = sql`TRUE`;
    else {
      const key = findSchema(this.map.rt, value)?.id ?? value;
      if (!SAFE_KEY.test(key)) invalid('Attribute "schemas" is compared with a schema URN string.');
      has = this.d.exists({ base: this.doc, keys: [key] });
    }
    return op === 'eq' ? has : sql`(NOT ${has})`;
  }

  private present(ref: JsonRef, def: AttributeDef | undefined): Expr {
    if (!def || def.type === 'string' || def.type === 'reference' || def.type === 'binary') {
      const text = this.d.text(ref);
      return sql`(${text} IS NOT NULL AND ${text} <> '')`;
    }
    return this.d.exists(ref);
  }

  /**
   * A comparison of a JSON-held value. Strings compare without regard to case
   * unless the attribute is caseExact (RFC 7643 §2.2); dateTimes compare as
   * instants; booleans allow only eq and ne.
   */
  private comparison(ref: JsonRef, def: AttributeDef | undefined, op: CompareOp, operand: FilterValue): Expr {
    const name = def?.name ?? 'attribute';
    if (operand === null) {
      if (op === 'eq') return sql`(NOT ${this.d.exists(ref)})`;
      if (op === 'ne') return this.d.exists(ref);
      invalid(`"${name}" cannot be ordered against null.`);
    }
    const type = def?.type ?? (typeof operand === 'number' ? 'decimal' : typeof operand === 'boolean' ? 'boolean' : 'string');
    if (type === 'boolean') {
      if (op !== 'eq' && op !== 'ne') invalid(`"${name}" is a boolean: only eq, ne and pr apply.`);
      const is = this.d.isBool(ref, boolValue(operand, name) === 1);
      return op === 'eq' ? is : sql`(NOT coalesce(${is}, FALSE))`;
    }
    if (type === 'integer' || type === 'decimal') {
      const n = typeof operand === 'number' ? operand : Number(operand);
      if (!Number.isFinite(n) || op === 'co' || op === 'sw' || op === 'ew') invalid(`"${name}" is a number: compare it with a number.`);
      const num = this.d.number(ref);
      if (op === 'ne') return sql`(${num} IS NULL OR ${num} <> ${n})`;
      return sql`(${num} ${sql.raw(SQL_OPS[op])} ${n})`;
    }
    if (type === 'complex') invalid(`"${name}" is a complex attribute: compare one of its sub-attributes.`);
    if (typeof operand !== 'string') invalid(`"${name}" is text: compare it with a quoted string.`);
    if (type === 'dateTime' && op !== 'co' && op !== 'sw' && op !== 'ew') {
      const iso = normalizeDateTime(operand, name);
      const cmp = SQL_OPS[op];
      return sql`(${this.d.instant(ref)} ${sql.raw(cmp)} ${this.d.instantParam(iso)})`;
    }
    const value = this.d.text(ref);
    const exact = def?.caseExact ?? false;
    const lhs = exact ? value : sql`lower(${value})`;
    const rhs = exact ? operand : operand.toLowerCase();
    switch (op) {
      case 'co':
      case 'sw':
      case 'ew': {
        const like = sql`(${lhs} LIKE ${likePattern(op, rhs)} ESCAPE '\\')`;
        if (!exact) return like;
        // LIKE may fold ASCII case: the exact test keeps caseExact attributes exact.
        const precise = op === 'co' ? this.d.contains(value, rhs) : op === 'sw' ? this.d.startsWith(value, rhs) : this.d.endsWith(value, rhs);
        return sql`(${like} AND ${precise})`;
      }
      case 'ne':
        return sql`(${value} IS NULL OR ${lhs} <> ${rhs})`;
      default:
        return sql`(${lhs} ${sql.raw(SQL_OPS[op])} ${rhs})`;
    }
  }

  /** The SQL a sortBy attribute orders by (RFC 7644 §3.4.2.3); multi-valued attributes sort by their primary value. */
  sortKey(path: AttrPath): Expr {
    const target = resolveTarget(this.map, path);
    if (target.relation) invalid(`Cannot sort by "${target.canonical}".`);
    if (target.constant !== undefined) return sql`0`;
    if (target.column) return sql.ref(target.column.column);
    const leaf = target.sub ?? target.def;
    const fold = (e: Expr) => (leaf && !leaf.caseExact && (leaf.type === 'string' || leaf.type === 'reference') ? sql`lower(${e})` : e);
    const ref: JsonRef = { base: this.doc, keys: target.keys };
    if (target.def?.multiValued) {
      const value = this.d.text({ ...this.d.element(), keys: [target.sub?.name ?? 'value'] });
      const primary = this.d.isBool({ ...this.d.element(), keys: ['primary'] }, true);
      return sql`(SELECT ${fold(value)} FROM ${this.d.elements(ref)} ORDER BY coalesce(${primary}, FALSE) DESC LIMIT 1)`;
    }
    if (leaf?.type === 'complex') invalid(`Cannot sort by the complex attribute "${target.canonical}".`);
    return fold(this.d.text(ref));
  }
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

/** A comparison whose left side is the same for every row, decided here. */
function constantComparison(constant: string, op: CompareOp | 'pr', value: FilterValue): Expr {
  if (op === 'pr') return sql`TRUE`;
  if (typeof value !== 'string') invalid('meta.resourceType is compared with a quoted string.');
  const a = constant.toLowerCase();
  const b = value.toLowerCase();
  const result = { eq: a === b, ne: a !== b, co: a.includes(b), sw: a.startsWith(b), ew: a.endsWith(b), gt: a > b, ge: a >= b, lt: a < b, le: a <= b }[op];
  return result ? sql`TRUE` : sql`FALSE`;
}

function columnComparison(d: SqlDialect, col: ColumnSpec, op: CompareOp | 'pr', value: FilterValue, canonical: string): Expr {
  const ref = sql.ref(col.column);
  if (op === 'pr') return col.kind === 'ci' || col.kind === 'exact' ? sql`(${ref} IS NOT NULL AND ${ref} <> '')` : sql`(${ref} IS NOT NULL)`;
  if (value === null) {
    if (op === 'eq') return sql`(${ref} IS NULL)`;
    if (op === 'ne') return sql`(${ref} IS NOT NULL)`;
    invalid(`"${canonical}" cannot be ordered against null.`);
  }
  switch (col.kind) {
    case 'bool': {
      if (op !== 'eq' && op !== 'ne') invalid(`"${canonical}" is a boolean: only eq, ne and pr apply.`);
      return sql`(${ref} ${sql.raw(SQL_OPS[op])} ${boolValue(value, canonical)})`;
    }
    case 'datetime': {
      if (op === 'co' || op === 'sw' || op === 'ew') invalid(`"${canonical}" is a dateTime: use eq, ne, gt, ge, lt or le.`);
      // Columns hold toISOString() text, which orders as the instants do.
      return sql`(${ref} ${sql.raw(SQL_OPS[op])} ${normalizeDateTime(value, canonical)})`;
    }
    case 'ci':
    case 'exact': {
      const text = typeof value === 'string' ? value : String(value);
      const v = col.kind === 'ci' ? text.normalize('NFC').toLowerCase() : text;
      if (op === 'co' || op === 'sw' || op === 'ew') {
        const like = sql`(${ref} LIKE ${likePattern(op, v)} ESCAPE '\\')`;
        // LIKE folds ASCII case in SQLite; ids and externalIds compare exactly.
        if (col.kind !== 'exact') return like;
        const precise = op === 'co' ? d.contains(ref, text) : op === 'sw' ? d.startsWith(ref, text) : d.endsWith(ref, text);
        return sql`(${like} AND ${precise})`;
      }
      if (op === 'ne') return sql`(${ref} IS NULL OR ${ref} <> ${v})`;
      return sql`(${ref} ${sql.raw(SQL_OPS[op])} ${v})`;
    }
  }
}

/** Builds the SQL for a filter against the mapping's table. */
export function compileFilter(map: ResourceMapping, filter: Filter, dialect: SqlDialect = sqliteDialect): Expr {
  return new FilterCompiler(map, dialect).compile(filter);
}

/** The SQL a sortBy attribute orders by. */
export function compileSortKey(map: ResourceMapping, path: AttrPath, dialect: SqlDialect = sqliteDialect): Expr {
  return new FilterCompiler(map, dialect).sortKey(path);
}
