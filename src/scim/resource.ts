/**
 * Turning client JSON into a resource in canonical form: attribute names spelt
 * as the schema spells them, values of the declared type, read-only and
 * write-only attributes dropped (RFC 7643 §2, §7; RFC 7644 §3.3).
 */
import { badRequest } from './errors.js';
import {
  type AttributeDef,
  type ResourceTypeDef,
  coreAttributes,
  findAttr,
  findSchema,
} from './schema.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The own key of `obj` equal to `name` without regard to case (RFC 7643 §2.1). */
export function keyCI(obj: Record<string, unknown>, name: string): string | undefined {
  if (Object.hasOwn(obj, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(obj).find((key) => key.toLowerCase() === lower);
}

/** Keys that must never become properties of a plain object built from client input. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key);
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Coerces one attribute value to its declared type. `null` and empty values
 * come back as `undefined`, which callers read as "unassigned" (RFC 7643 §2.5).
 * Identity providers send booleans as "True"/"False" strings (Entra) and
 * single values for multi-valued attributes; both are accepted.
 */
export function coerceValue(def: AttributeDef, value: unknown, where: string, keepUnknown = false): Json | undefined {
  if (value === null || value === undefined) return undefined;
  if (def.multiValued) {
    const items = Array.isArray(value) ? value : [value];
    const out: Json[] = [];
    for (const item of items) {
      const coerced = coerceSingle(def, item, where, keepUnknown);
      if (coerced !== undefined) out.push(coerced);
    }
    // RFC 7643 §2.4: a primary value of true appears no more than once.
    if (out.filter((item) => isObject(item) && item.primary === true).length > 1) {
      throw badRequest('invalidValue', `Attribute "${where}" has more than one value marked primary.`);
    }
    return out.length > 0 ? out : undefined;
  }
  if (Array.isArray(value)) {
    // A one-element array for a single-valued attribute is a common client slip.
    if (value.length === 1) return coerceSingle(def, value[0], where, keepUnknown);
    throw badRequest('invalidValue', `Attribute "${where}" takes a single value, not a list.`);
  }
  return coerceSingle(def, value, where, keepUnknown);
}

function coerceSingle(def: AttributeDef, value: unknown, where: string, keepUnknown: boolean): Json | undefined {
  if (value === null || value === undefined) return undefined;
  switch (def.type) {
    case 'string':
    case 'reference':
    case 'binary':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      break;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') {
        const lower = value.trim().toLowerCase();
        if (lower === 'true') return true;
        if (lower === 'false') return false;
      }
      break;
    case 'integer':
    case 'decimal': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n === 'number' && Number.isFinite(n) && (def.type === 'decimal' || Number.isInteger(n))) return n;
      break;
    }
    case 'dateTime':
      if (typeof value === 'string' && ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value))) return value;
      break;
    case 'complex':
      if (isObject(value)) return coerceComplex(def, value, where, keepUnknown);
      // A bare value for a complex attribute means its "value" sub-attribute,
      // as Entra sends for the enterprise manager.
      if (typeof value === 'string' && findAttr(def.subAttributes, 'value')) return { value };
      break;
  }
  throw badRequest('invalidValue', `Attribute "${where}" must be of type ${def.type}${def.multiValued ? ' (a list)' : ''}.`);
}

function coerceComplex(def: AttributeDef, value: JsonObject, where: string, keepUnknown: boolean): JsonObject | undefined {
  const out: JsonObject = {};
  for (const [key, raw] of Object.entries(value)) {
    if (isForbiddenKey(key)) continue;
    const sub = findAttr(def.subAttributes, key);
    if (!sub) {
      if (keepUnknown && raw !== null && raw !== undefined) out[key] = raw as Json;
      continue;
    }
    const coerced = coerceValue(sub, raw, `${where}.${sub.name}`, keepUnknown);
    // An empty string leaves a sub-attribute unassigned (Entra clears a manager with {"value": ""}).
    if (coerced !== undefined && coerced !== '') out[sub.name] = coerced;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** True when an attribute's writes from a client are discarded. */
function isIgnoredOnInput(def: AttributeDef): boolean {
  return def.mutability === 'readOnly' || def.mutability === 'writeOnly';
}

/**
 * Where a top-level key of a resource body lands: a core attribute, an
 * extension object, an attribute inside an extension named by its full URN
 * (`urn:...:enterprise:2.0:User:department`), or an unknown extension kept as is.
 */
export type KeyTarget =
  | { kind: 'core'; def: AttributeDef }
  | { kind: 'extension'; urn: string; defs: AttributeDef[] }
  | { kind: 'extensionAttr'; urn: string; def: AttributeDef; rest: string }
  | { kind: 'unknownExtension'; key: string }
  | { kind: 'ignored' };

export function resolveTopLevelKey(rt: ResourceTypeDef, key: string): KeyTarget {
  const core = findAttr(coreAttributes(rt), key);
  if (core) return { kind: 'core', def: core };
  if (!/^urn:/i.test(key)) return { kind: 'ignored' };
  const schema = findSchema(rt, key);
  if (schema) {
    if (schema.id === rt.schema.id) return { kind: 'ignored' };
    return { kind: 'extension', urn: schema.id, defs: schema.attributes };
  }
  for (const candidate of [rt.schema, ...rt.extensions]) {
    const prefix = `${candidate.id.toLowerCase()}:`;
    if (!key.toLowerCase().startsWith(prefix)) continue;
    const rest = key.slice(prefix.length);
    const [name] = rest.split('.');
    const def = findAttr(candidate.attributes, name);
    if (!def) return { kind: 'ignored' };
    if (candidate.id === rt.schema.id) return { kind: 'core', def };
    return { kind: 'extensionAttr', urn: candidate.id, def, rest };
  }
  return { kind: 'unknownExtension', key };
}

/**
 * Canonicalises a resource body sent by a client (POST or PUT). Read-only
 * attributes (id, meta, groups) and the write-only password are dropped.
 */
export function normalizeResource(rt: ResourceTypeDef, body: unknown): JsonObject {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'The request body must be a JSON object.');
  if (body.schemas !== undefined) {
    if (!Array.isArray(body.schemas) || body.schemas.some((s) => typeof s !== 'string')) {
      throw badRequest('invalidSyntax', 'Attribute "schemas" must be a list of schema URNs.');
    }
  }
  const out: JsonObject = {};
  for (const [key, raw] of Object.entries(body)) {
    if (isForbiddenKey(key) || key === 'schemas') continue;
    const target = resolveTopLevelKey(rt, key);
    switch (target.kind) {
      case 'core': {
        if (isIgnoredOnInput(target.def) || target.def.name === 'id' || target.def.name === 'meta') break;
        const value = coerceValue(target.def, raw, target.def.name);
        if (value !== undefined) out[target.def.name] = value;
        break;
      }
      case 'extension': {
        if (raw === null || raw === undefined) break;
        if (!isObject(raw)) throw badRequest('invalidValue', `Attribute "${target.urn}" must be an object.`);
        const ext = coerceExtension(target.defs, raw, target.urn);
        if (ext) out[target.urn] = { ...((out[target.urn] as JsonObject) ?? {}), ...ext };
        break;
      }
      case 'extensionAttr': {
        const ext = { ...((out[target.urn] as JsonObject) ?? {}) };
        const value = coerceValue(target.def, raw, `${target.urn}:${target.def.name}`, true);
        if (value !== undefined) ext[target.def.name] = value;
        if (Object.keys(ext).length > 0) out[target.urn] = ext;
        break;
      }
      case 'unknownExtension':
        if (raw !== null && raw !== undefined) out[key] = sanitize(raw) as Json;
        break;
      case 'ignored':
        break;
    }
  }
  return out;
}

/** Coerces the known attributes of an extension object and keeps unknown ones as sent. */
export function coerceExtension(defs: AttributeDef[], raw: JsonObject, urn: string): JsonObject | undefined {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(raw)) {
    if (isForbiddenKey(key)) continue;
    const def = findAttr(defs, key);
    if (!def) {
      if (value !== null && value !== undefined) out[key] = sanitize(value) as Json;
      continue;
    }
    const coerced = coerceValue(def, value, `${urn}:${def.name}`, true);
    if (coerced !== undefined) out[def.name] = coerced;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A deep copy of client JSON without prototype-polluting keys. */
export function sanitize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sanitize);
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (!isForbiddenKey(k)) out[k] = sanitize(v);
    return out;
  }
  return value;
}

/** The primary value of a multi-valued attribute: the one marked primary, else the first. */
export function primaryValue(items: Json | undefined): JsonObject | undefined {
  if (!Array.isArray(items)) return undefined;
  const objects = items.filter(isObject);
  return objects.find((item) => item.primary === true) ?? objects[0];
}
