/**
 * List and search parameters (RFC 7644 §3.4.2, §3.4.3) and attribute
 * projection (§3.4.2.5), shared by every resource type.
 */
import { badRequest } from './errors.js';
import { type AttrPath, FilterSyntaxError, type Filter, parseFilter, parsePatchPath } from './filter.js';
import { type Json, type JsonObject, isObject, keyCI } from './resource.js';
import { type AttributeDef, type ResourceTypeDef, coreAttributes, findAttr, findSchema, isCoreSchemaUrn } from './schema.js';

/** The most resources one page returns; advertised in ServiceProviderConfig. */
export const MAX_RESULTS = 200;
export const MAX_FILTER_LENGTH = 4096;

export interface ListParams {
  filter?: Filter;
  sortBy?: AttrPath;
  descending: boolean;
  startIndex: number;
  count: number;
  attributes?: AttrPath[];
  excludedAttributes?: AttrPath[];
}

function intParam(raw: unknown, name: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isInteger(n)) throw badRequest('invalidValue', `"${name}" must be a whole number.`);
  return n;
}

function stringParam(raw: unknown, name: string): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (Array.isArray(raw)) {
    if (name === 'attributes' || name === 'excludedAttributes') return raw.map(String).join(',');
    throw badRequest('invalidValue', `"${name}" is given more than once.`);
  }
  if (typeof raw !== 'string') throw badRequest('invalidValue', `"${name}" must be a string.`);
  return raw;
}

export function parseFilterParam(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw badRequest('invalidFilter', `The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  try {
    return parseFilter(text);
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw badRequest('invalidFilter', `Invalid filter: ${err.message}`);
    throw err;
  }
}

function parsePathList(text: string | undefined, name: string): AttrPath[] | undefined {
  if (text === undefined) return undefined;
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length > 100) throw badRequest('invalidValue', `"${name}" lists more than 100 attributes.`);
  return items.map((item) => {
    try {
      // A value filter (emails[type eq "work"]) is not an attribute name in
      // RFC 7644 §3.9; clients that send one get the attribute it names.
      const parsed = parsePatchPath(item);
      if (parsed.filter && parsed.sub) return { ...parsed.path, sub: parsed.sub };
      return parsed.sub ? { ...parsed.path, sub: parsed.sub } : parsed.path;
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw badRequest('invalidValue', `"${name}" has an invalid attribute name "${item}".`);
      throw err;
    }
  });
}

/**
 * Reads list parameters from a query string (GET) or a SearchRequest body
 * (POST .search); parameter names are matched without regard to case.
 */
export function parseListParams(source: Record<string, unknown>): ListParams {
  const get = (name: string) => {
    const key = keyCI(source, name);
    return key === undefined ? undefined : source[key];
  };
  const filterText = stringParam(get('filter'), 'filter');
  const sortByText = stringParam(get('sortBy'), 'sortBy');
  const sortOrder = stringParam(get('sortOrder'), 'sortOrder');
  if (sortOrder !== undefined && !/^(ascending|descending)$/i.test(sortOrder)) {
    throw badRequest('invalidValue', '"sortOrder" must be "ascending" or "descending".');
  }
  // RFC 7644 §3.4.2.4: startIndex below 1 reads as 1; count below 0 as 0.
  const startIndex = Math.max(1, intParam(get('startIndex'), 'startIndex') ?? 1);
  const count = Math.min(MAX_RESULTS, Math.max(0, intParam(get('count'), 'count') ?? MAX_RESULTS));
  const attrs = get('attributes');
  const excluded = get('excludedAttributes');
  const sortBy = sortByText ? parsePathList(sortByText, 'sortBy') : undefined;
  if (sortBy && sortBy.length !== 1) throw badRequest('invalidValue', '"sortBy" takes one attribute.');
  return {
    filter: filterText !== undefined ? parseFilterParam(filterText) : undefined,
    sortBy: sortBy?.[0],
    descending: sortOrder?.toLowerCase() === 'descending',
    startIndex,
    count,
    attributes: parsePathList(Array.isArray(attrs) ? attrs.join(',') : stringParam(attrs, 'attributes'), 'attributes'),
    excludedAttributes: parsePathList(Array.isArray(excluded) ? excluded.join(',') : stringParam(excluded, 'excludedAttributes'), 'excludedAttributes'),
  };
}

/** Reads `attributes` / `excludedAttributes` alone, for single-resource reads and writes. */
export function parseProjection(source: Record<string, unknown>): Pick<ListParams, 'attributes' | 'excludedAttributes'> {
  const { attributes, excludedAttributes } = parseListParams({
    attributes: source.attributes,
    excludedAttributes: source.excludedAttributes,
  });
  return { attributes, excludedAttributes };
}

interface ResolvedPath {
  /** Key path in the resource: ['name', 'givenName'] or [urn, 'department']. */
  keys: string[];
  def?: AttributeDef;
}

function resolveProjectionPath(rt: ResourceTypeDef, path: AttrPath): ResolvedPath | undefined {
  // A schema URN on its own (RFC 7644 §3.10) names all of that schema's attributes.
  if (!path.sub) {
    const whole = findSchema(rt, path.uri ? `${path.uri}:${path.attr}` : path.attr);
    if (whole) return { keys: whole.id === rt.schema.id ? [CORE] : [whole.id] };
  }
  let defs = coreAttributes(rt);
  const prefix: string[] = [];
  if (path.uri && findSchema(rt, path.uri)?.id !== rt.schema.id) {
    const ext = findSchema(rt, path.uri);
    if (!ext) return { keys: [path.uri, path.attr, ...(path.sub ? [path.sub] : [])] };
    defs = ext.attributes;
    prefix.push(ext.id);
  } else if (!path.uri) {
    // A bare extension URN names the whole extension object.
    const ext = findSchema(rt, path.attr);
    if (ext) return { keys: [ext.id] };
  }
  const def = findAttr(defs, path.attr);
  if (!def) return undefined;
  if (!path.sub) return { keys: [...prefix, def.name], def };
  const sub = findAttr(def.subAttributes, path.sub);
  if (!sub) return undefined;
  return { keys: [...prefix, def.name, sub.name], def: sub };
}

/** Stands for every core attribute in a resolved path. */
const CORE = '\u0000core';

function coreKeys(obj: JsonObject): string[] {
  return Object.keys(obj).filter((k) => !k.toLowerCase().startsWith('urn:'));
}

function copyPath(from: JsonObject, to: JsonObject, keys: string[]): void {
  if (keys[0] === CORE) {
    for (const k of coreKeys(from)) to[k] = from[k];
    return;
  }
  const [head, ...rest] = keys;
  const key = keyCI(from, head);
  if (key === undefined) return;
  const value = from[key];
  if (rest.length === 0) {
    to[key] = value;
    return;
  }
  if (Array.isArray(value)) {
    const existing = Array.isArray(to[key]) ? (to[key] as Json[]) : value.map(() => ({}) as Json);
    value.forEach((item, i) => {
      if (isObject(item) && isObject(existing[i])) copyPath(item, existing[i] as JsonObject, rest);
    });
    to[key] = existing;
  } else if (isObject(value)) {
    const target = isObject(to[key]) ? (to[key] as JsonObject) : {};
    copyPath(value, target, rest);
    to[key] = target;
  }
}

function deletePath(obj: JsonObject, keys: string[]): void {
  if (keys[0] === CORE) {
    for (const k of coreKeys(obj)) if (!ALWAYS.includes(k)) delete obj[k];
    return;
  }
  const [head, ...rest] = keys;
  const key = keyCI(obj, head);
  if (key === undefined) return;
  if (rest.length === 0) {
    delete obj[key];
    return;
  }
  const value = obj[key];
  if (Array.isArray(value)) value.forEach((item) => isObject(item) && deletePath(item, rest));
  else if (isObject(value)) deletePath(value, rest);
}

/** Attributes returned whatever the client asks for (RFC 7643 §7 returned "always"). */
const ALWAYS = ['id', 'schemas'];

/**
 * Applies `attributes` (only these, plus the always-returned ones) or
 * `excludedAttributes` (all but these) to a rendered resource.
 */
export function project(rt: ResourceTypeDef, resource: JsonObject, attributes?: AttrPath[], excluded?: AttrPath[]): JsonObject {
  if (attributes && attributes.length > 0) {
    const out: JsonObject = {};
    for (const key of ALWAYS) if (key in resource) out[key] = resource[key];
    for (const path of attributes) {
      const resolved = resolveProjectionPath(rt, path);
      if (resolved) copyPath(resource, out, resolved.keys);
    }
    return out;
  }
  if (excluded && excluded.length > 0) {
    const out: JsonObject = structuredClone(resource);
    for (const path of excluded) {
      const resolved = resolveProjectionPath(rt, path);
      if (!resolved || ALWAYS.includes(resolved.keys[0])) continue;
      deletePath(out, resolved.keys);
    }
    return out;
  }
  return resource;
}

/** True when a projection leaves `name` out, so the store need not read it (e.g. group members). */
export function isExcluded(name: string, attributes?: AttrPath[], excluded?: AttrPath[]): boolean {
  const lower = name.toLowerCase();
  // A core attribute may be named with its schema URN (RFC 7644 §3.10).
  const isCore = (p: AttrPath) => !p.uri || isCoreSchemaUrn(p.uri);
  const wholeCore = (p: AttrPath) => !p.sub && isCoreSchemaUrn(p.uri ? `${p.uri}:${p.attr}` : p.attr);
  if (attributes && attributes.length > 0) return !attributes.some((p) => wholeCore(p) || (isCore(p) && p.attr.toLowerCase() === lower));
  if (excluded && excluded.length > 0) return excluded.some((p) => wholeCore(p) || (isCore(p) && !p.sub && p.attr.toLowerCase() === lower));
  return false;
}

