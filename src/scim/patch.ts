/**
 * SCIM PATCH (RFC 7644 §3.5.2): validating a PatchOp request body and applying
 * its operations to a resource in canonical form. Pure: no I/O.
 *
 * Besides the RFC, this module accepts what Okta and Microsoft Entra ID send:
 * capitalised ops ("Replace"), booleans as strings ("False"), path-less values
 * that echo the resource's id, value-path filters that must create the element
 * they name (`phoneNumbers[type eq "mobile"].value`), and member removal by
 * listing the members under `path: "members"`.
 */
import { ScimError, badRequest } from './errors.js';
import {
  type AttrPath,
  type Filter,
  type PatchPath,
  FilterSyntaxError,
  logicalOperands,
  matches,
  parsePatchPath,
} from './filter.js';
import { type Json, type JsonObject, coerceValue, isForbiddenKey, isObject, keyCI, sanitize } from './resource.js';
import {
  type AttributeDef,
  type ResourceTypeDef,
  type SchemaDef,
  PATCH_SCHEMA,
  coreAttributes,
  findAttr,
} from './schema.js';

/** The three PATCH operations (RFC 7644 §3.5.2), spelt in lower case. */
export type PatchOpName = 'add' | 'remove' | 'replace';

/** One member of a PatchOp request's `Operations` list (RFC 7644 §3.5.2). */
export interface PatchOperation {
  op: PatchOpName;
  path?: string;
  value?: unknown;
}

const OP_NAMES: ReadonlySet<string> = new Set<PatchOpName>(['add', 'remove', 'replace']);

// ---------------------------------------------------------------------------
// Request validation
// ---------------------------------------------------------------------------

/**
 * Validates a PatchOp request body (RFC 7644 §3.5.2) and returns its operations
 * with `op` in lower case and an empty `path` dropped.
 *
 * Lenient where identity providers differ from the RFC: `schemas` may be
 * missing, the `Operations` member and the members of each operation may be
 * spelt in any case, and so may the op name ("Replace", "ADD").
 *
 * @throws ScimError 400 `invalidSyntax` for a malformed body or operation (the
 *   detail names the operation by its index), 400 `noTarget` for a `remove`
 *   without a path (§3.5.2.2), 400 `invalidValue` for an `add` or `replace`
 *   without a value (§3.5.2.1, §3.5.2.3).
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'The PATCH request body must be a JSON object.');
  checkSchemas(getCI(body, 'schemas'));
  const keys = Object.keys(body).filter((key) => key.toLowerCase() === 'operations');
  if (keys.length === 0) throw badRequest('invalidSyntax', 'The PATCH request has no "Operations" list.');
  if (keys.length > 1) throw badRequest('invalidSyntax', 'The PATCH request has more than one "Operations" member.');
  const operations = body[keys[0]];
  if (!Array.isArray(operations) || operations.length === 0) {
    throw badRequest('invalidSyntax', '"Operations" must be a non-empty list of operations.');
  }
  return operations.map((raw, index) => atOperation(index, () => parseOperation(raw)));
}

/** Runs `fn` for one operation, prefixing any SCIM error with the operation's index. */
function atOperation<T>(index: number, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof ScimError)) throw err;
    throw new ScimError(err.status, `Operations[${index}]: ${err.message}`, err.scimType);
  }
}

/** Some clients omit `schemas`; one that is present must name the PatchOp message. */
function checkSchemas(schemas: unknown): void {
  if (schemas === undefined || schemas === null) return;
  const list = Array.isArray(schemas) ? schemas : [schemas];
  const wanted = PATCH_SCHEMA.toLowerCase();
  if (!list.some((s) => typeof s === 'string' && s.toLowerCase() === wanted)) {
    throw badRequest('invalidSyntax', `The PATCH request "schemas" must include "${PATCH_SCHEMA}".`);
  }
}

function parseOperation(raw: unknown): PatchOperation {
  if (!isObject(raw)) throw badRequest('invalidSyntax', 'An operation must be an object.');
  const op = parseOpName(getCI(raw, 'op'));
  const path = parsePathMember(getCI(raw, 'path'));
  const value = getCI(raw, 'value');
  checkOperands(op, path, value);
  const operation: PatchOperation = { op };
  if (path !== undefined) operation.path = path;
  if (value !== undefined) operation.value = value;
  return operation;
}

function parseOpName(raw: unknown): PatchOpName {
  const name = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
  if (name !== undefined && OP_NAMES.has(name)) return name as PatchOpName;
  const found = raw === undefined ? 'none' : show(raw);
  throw badRequest('invalidSyntax', `"op" must be "add", "remove" or "replace" (found ${found}).`);
}

/** RFC 7644 §3.5.2.2: remove needs a path; §3.5.2.1 and §3.5.2.3: add and replace need a value. */
function checkOperands(op: PatchOpName, path: string | undefined, value: unknown): void {
  if (op === 'remove' && path === undefined) throw badRequest('noTarget', 'A "remove" operation needs a "path".');
  if (op !== 'remove' && value === undefined) throw badRequest('invalidValue', `An "${op}" operation needs a "value".`);
}

/** A null or blank path reads as no path at all. */
function parsePathMember(raw: unknown): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw badRequest('invalidSyntax', '"path" must be a string.');
  const path = raw.trim();
  return path === '' ? undefined : path;
}

// ---------------------------------------------------------------------------
// Applying operations
// ---------------------------------------------------------------------------

/**
 * Applies PATCH operations in order (RFC 7644 §3.5.2) to a deep copy of
 * `resource` and returns the result; the input is never modified.
 *
 * `resource` is in canonical form: attribute names as the schema spells them,
 * extension attributes under their schema URN. The result is canonical too,
 * with attributes left empty (`[]`, `{}`) removed (RFC 7643 §2.5).
 *
 * All or nothing (§3.5.2: "the entire operation MUST be rolled back"): any
 * failure throws and no partial result escapes.
 *
 * Not checked here: immutable attributes (`userName`) and uniqueness. The
 * caller compares the result with the stored resource.
 *
 * @throws ScimError 400 with scimType `invalidPath` (unknown attribute or a
 *   path that does not parse), `mutability` (a read-only attribute),
 *   `invalidValue` (a value of the wrong type or shape), `noTarget` (a filter
 *   that matches nothing and cannot create an element) or `invalidSyntax`.
 *   The detail starts with the operation's index.
 */
export function applyPatch(rt: ResourceTypeDef, resource: JsonObject, ops: PatchOperation[]): JsonObject {
  const doc = sanitize(resource) as JsonObject;
  ops.forEach((operation, index) =>
    atOperation(index, () => {
      applyOperation(rt, doc, operation);
      pruneObject(doc);
    }),
  );
  return doc;
}

/** One operation in flight: what to do, with which (sanitised) value. */
interface Change {
  op: PatchOpName;
  value: unknown;
}

function applyOperation(rt: ResourceTypeDef, doc: JsonObject, operation: PatchOperation): void {
  // Callers may build operations themselves, so the checks of parsePatchRequest are repeated.
  const op = parseOpName(operation.op);
  const path = parsePathMember(operation.path);
  const value = operation.value === undefined ? undefined : sanitize(operation.value);
  checkOperands(op, path, value);
  const target = path === undefined ? { kind: 'resource' as const } : checkMutability(resolvePath(rt, path), false);
  applyToTarget(rt, doc, target, { op, value });
}

// ---------------------------------------------------------------------------
// Path resolution
// ---------------------------------------------------------------------------

/** Where a path points in a resource. */
type Target =
  /** Accepted and dropped: `password`, and `id`/`meta` echoed in path-less values. */
  | { kind: 'discard' }
  /** The resource itself: no path, or the core schema URN. */
  | { kind: 'resource' }
  /** A whole extension object; `defs` is absent for an extension this service does not know. */
  | { kind: 'extension'; urn: string; defs?: AttributeDef[] }
  /** A schema attribute, optionally narrowed by a value filter and/or to a sub-attribute. */
  | { kind: 'attribute'; urn?: string; def: AttributeDef; filter?: Filter; sub?: AttributeDef; where: string }
  /** An attribute the schemas do not describe, inside an extension: kept as sent. */
  | { kind: 'unknown'; urn: string; name: string; sub?: string };

type AttributeTarget = Extract<Target, { kind: 'attribute' }>;
type UnknownTarget = Extract<Target, { kind: 'unknown' }>;

/** URN namespaces that can never hold an extension: other core schemas and API messages. */
const RESERVED_URN = /^urn:ietf:params:scim:(schemas:core|api):/i;

/** Resolves a PATCH path (RFC 7644 §3.5.2, `attrPath / valuePath ["." subAttr]`) against the schemas. */
function resolvePath(rt: ResourceTypeDef, text: string): Target {
  // Known schema URNs are split off here rather than by the parser, so that a
  // path naming the extension itself, and Microsoft's `...:User.manager`
  // (a dot where the RFC has a colon), resolve as well.
  for (const schema of [rt.schema, ...rt.extensions]) {
    const rest = afterSchemaUrn(text, schema.id);
    if (rest === undefined) continue;
    if (rest === '' && schema === rt.schema) return { kind: 'resource' };
    if (rest === '') return { kind: 'extension', urn: schema.id, defs: schema.attributes };
    const parsed = parsePath(rest, text);
    if (parsed.path.uri !== undefined) throw badRequest('invalidPath', `Path "${text}" names two schemas.`);
    return resolveAttribute(rt, schema, parsed, text);
  }
  const parsed = parsePath(text, text);
  if (parsed.path.uri === undefined) return resolveAttribute(rt, rt.schema, parsed, text);
  return resolveUnknownExtension(rt, parsed, text);
}

/** The text after `urn` and its separator (`:` or `.`); '' when `text` is the URN; undefined when not a prefix. */
function afterSchemaUrn(text: string, urn: string): string | undefined {
  if (text.length < urn.length || text.slice(0, urn.length).toLowerCase() !== urn.toLowerCase()) return undefined;
  if (text.length === urn.length) return '';
  const separator = text[urn.length];
  return separator === ':' || separator === '.' ? text.slice(urn.length + 1) : undefined;
}

function parsePath(text: string, whole: string): PatchPath {
  try {
    return parsePatchPath(text);
  } catch (err) {
    if (err instanceof FilterSyntaxError) throw badRequest('invalidPath', `Invalid path "${whole}": ${err.message}.`);
    throw err;
  }
}

function resolveAttribute(rt: ResourceTypeDef, schema: SchemaDef, parsed: PatchPath, text: string): Target {
  const isCore = schema === rt.schema;
  const urn = isCore ? undefined : schema.id;
  const def = findAttr(isCore ? coreAttributes(rt) : schema.attributes, parsed.path.attr);
  const subName = subAttributeName(parsed, text);
  if (!def) {
    // Unknown attributes of a known extension are kept, as on POST and PUT.
    if (urn) return unknownTarget(urn, parsed.path.attr, subName, parsed, text);
    throw badRequest('invalidPath', `Path "${text}" names an unknown attribute "${parsed.path.attr}".`);
  }
  if (parsed.filter && !def.multiValued) {
    throw badRequest('invalidPath', `Path "${text}" filters "${def.name}", which is not multi-valued.`);
  }
  let sub: AttributeDef | undefined;
  if (subName !== undefined) {
    sub = findAttr(def.subAttributes, subName);
    if (!sub) throw badRequest('invalidPath', `Path "${text}": "${def.name}" has no sub-attribute "${subName}".`);
  }
  const where = `${urn ? `${urn}:` : ''}${def.name}${sub ? `.${sub.name}` : ''}`;
  return { kind: 'attribute', urn, def, filter: parsed.filter, sub, where };
}

/** `name.givenName` and `emails[...].value` both name a sub-attribute; `a.b[...].c` names two. */
function subAttributeName(parsed: PatchPath, text: string): string | undefined {
  if (parsed.sub !== undefined && parsed.path.sub !== undefined) {
    throw badRequest('invalidPath', `Path "${text}" names more than one sub-attribute.`);
  }
  return parsed.sub ?? parsed.path.sub;
}

/**
 * A path into an extension this service does not know. Following the RFC
 * grammar the URN is everything before the last colon, so
 * `urn:acme:2.0:User:costCode` is attribute `costCode` of `urn:acme:2.0:User`.
 */
function resolveUnknownExtension(rt: ResourceTypeDef, parsed: PatchPath, text: string): Target {
  const urn = parsed.path.uri as string;
  if (RESERVED_URN.test(`${urn}:`)) {
    throw badRequest('invalidPath', `Path "${text}" names a schema that ${rt.name} resources do not have.`);
  }
  return unknownTarget(urn, parsed.path.attr, subAttributeName(parsed, text), parsed, text);
}

function unknownTarget(
  urn: string,
  name: string,
  sub: string | undefined,
  parsed: PatchPath,
  text: string,
): UnknownTarget {
  if (parsed.filter) throw badRequest('invalidPath', `Path "${text}": filters need an attribute the schema describes.`);
  // The parser only accepts names starting with a letter, but `constructor` is one.
  if (isForbiddenKey(name) || (sub !== undefined && isForbiddenKey(sub))) {
    throw badRequest('invalidPath', `Path "${text}" names a reserved attribute.`);
  }
  return sub === undefined ? { kind: 'unknown', urn, name } : { kind: 'unknown', urn, name, sub };
}

/**
 * Read-only attributes cannot be written (RFC 7643 §2.2, RFC 7644 §3.5.2).
 * Write-only ones (`password`) are accepted and dropped: Plumm never stores a
 * password, and refusing it would fail IdPs that always send one.
 */
function checkMutability(target: Target, inValueObject: boolean): Target {
  if (target.kind !== 'attribute') return target;
  const { def, sub } = target;
  if (def.mutability === 'writeOnly' || sub?.mutability === 'writeOnly') return { kind: 'discard' };
  if (def.mutability !== 'readOnly' && sub?.mutability !== 'readOnly') return target;
  // Okta echoes the resource's id in path-less replace values, e.g. `{id, displayName}` for groups.
  if (inValueObject && !target.urn && (def.name === 'id' || def.name === 'meta')) return { kind: 'discard' };
  throw badRequest('mutability', `Attribute "${target.where}" is read-only.`);
}

// ---------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------

function applyToTarget(rt: ResourceTypeDef, doc: JsonObject, target: Target, change: Change): void {
  switch (target.kind) {
    case 'discard':
      return;
    case 'resource':
      return applyToResource(rt, doc, change);
    case 'extension':
      if (target.defs) return applyToExtension(rt, doc, target.urn, change);
      return applyToUnknownExtension(doc, target.urn, change);
    case 'unknown':
      return applyToUnknown(doc, target, change);
    case 'attribute':
      return applyToAttribute(doc, target, change);
  }
}

/**
 * No path (RFC 7644 §3.5.2.1, §3.5.2.3): the value is an object whose keys
 * are paths in their own right — plain or dotted names, full URN paths, or an
 * extension URN holding an object of that extension's attributes.
 */
function applyToResource(rt: ResourceTypeDef, doc: JsonObject, change: Change): void {
  if (change.op === 'remove') throw badRequest('noTarget', 'A "remove" operation needs a path to an attribute.');
  if (!isObject(change.value)) {
    throw badRequest('invalidValue', `Without a "path", the value of "${change.op}" must be an object of attributes.`);
  }
  for (const [key, value] of Object.entries(change.value)) {
    if (isForbiddenKey(key) || key.toLowerCase() === 'schemas') continue;
    applyToTarget(rt, doc, checkMutability(resolveValueKey(rt, key, value), true), { op: change.op, value });
  }
}

function resolveValueKey(rt: ResourceTypeDef, key: string, value: unknown): Target {
  // An unknown extension sent whole is kept under its URN, as normalizeResource does on POST.
  const known = [rt.schema, ...rt.extensions].some((schema) => afterSchemaUrn(key, schema.id) !== undefined);
  if (!known && /^urn:/i.test(key) && !RESERVED_URN.test(key) && isObject(value)) {
    return { kind: 'extension', urn: key };
  }
  return resolvePath(rt, key);
}

/** An extension object as a whole: each key of the value is one of its attributes. */
function applyToExtension(rt: ResourceTypeDef, doc: JsonObject, urn: string, change: Change): void {
  if (change.op === 'remove' || clears(change)) {
    deleteCI(doc, urn);
    return;
  }
  if (change.value === null) return;
  if (!isObject(change.value)) throw badRequest('invalidValue', `The value of "${urn}" must be an object.`);
  for (const [key, value] of Object.entries(change.value)) {
    if (isForbiddenKey(key)) continue;
    const path = /^urn:/i.test(key) ? key : `${urn}:${key}`;
    applyToTarget(rt, doc, checkMutability(resolvePath(rt, path), true), { op: change.op, value });
  }
}

// ---------------------------------------------------------------------------
// Unknown extensions: values are kept as sent
// ---------------------------------------------------------------------------

function applyToUnknownExtension(doc: JsonObject, urn: string, change: Change): void {
  if (change.op === 'remove' || clears(change)) {
    deleteCI(doc, urn);
    return;
  }
  if (change.value === null) return;
  if (!isObject(change.value)) throw badRequest('invalidValue', `The value of "${urn}" must be an object.`);
  const ext = containerFor(doc, urn, true) as JsonObject;
  for (const [key, value] of Object.entries(change.value)) {
    setUnknown(ext, key, value as Json, change.op);
  }
}

function applyToUnknown(doc: JsonObject, target: UnknownTarget, change: Change): void {
  let { urn, name, sub } = target;
  // A resource may already hold the extension under the longer key, e.g.
  // `urn:acme:2.0:User` for the path `urn:acme:2.0:User.costCode`.
  const longer = `${urn}:${name}`;
  if (keyCI(doc, longer) !== undefined && keyCI(doc, urn) === undefined) {
    if (sub === undefined) return applyToUnknownExtension(doc, longer, change);
    [urn, name, sub] = [longer, sub, undefined];
  }
  const ext = containerFor(doc, urn, change.op !== 'remove');
  if (!ext) return;
  if (sub === undefined) {
    if (change.op === 'remove') deleteCI(ext, name);
    else setUnknown(ext, name, change.value as Json, change.op);
    return;
  }
  const current = ext[keyCI(ext, name) ?? name];
  if (change.op === 'remove') {
    if (isObject(current)) deleteCI(current, sub);
    return;
  }
  const parent = isObject(current) ? current : (ext[keyCI(ext, name) ?? name] = {});
  setUnknown(parent, sub, change.value as Json, change.op);
}

/** Sets a value the schemas do not describe: `add` appends to a list and merges objects. */
function setUnknown(container: JsonObject, name: string, value: Json, op: PatchOpName): void {
  if (isForbiddenKey(name)) return;
  const key = keyCI(container, name) ?? name;
  const current = container[key];
  if (value === null) {
    if (op === 'replace') delete container[key];
  } else if (op === 'add' && Array.isArray(current)) {
    container[key] = [...current, ...listOf(value)];
  } else if (op === 'add' && isObject(current) && isObject(value)) {
    container[key] = { ...current, ...value };
  } else {
    container[key] = value;
  }
}

// ---------------------------------------------------------------------------
// Schema attributes
// ---------------------------------------------------------------------------

function applyToAttribute(doc: JsonObject, target: AttributeTarget, change: Change): void {
  const container = containerFor(doc, target.urn, change.op !== 'remove');
  if (!container) return;
  if (target.def.multiValued) {
    if (!target.filter && !target.sub) applyToList(container, target, change);
    else applyToSelection(container, target, change);
  } else if (target.sub) {
    applyToSubAttribute(container, target, change);
  } else {
    applyToSingle(container, target, change);
  }
}

/**
 * A null value means "unassigned" (RFC 7643 §2.5): `replace` with null clears
 * the target, `add` with null changes nothing.
 */
function clears(change: Change): boolean {
  return change.op === 'replace' && change.value === null;
}

/**
 * Replacing a reference (a complex attribute with a `value`, such as the
 * enterprise manager) with an empty `value` unassigns the whole reference:
 * this is how Entra clears a manager.
 */
function clearsReference(def: AttributeDef, change: Change): boolean {
  if (change.op !== 'replace' || def.type !== 'complex' || !isObject(change.value)) return false;
  const raw = change.value as JsonObject;
  const key = keyCI(raw, 'value');
  return key !== undefined && (raw[key] === '' || raw[key] === null);
}

/** Coerces a client value for an attribute; extension attributes keep unknown sub-attributes. */
function coerce(target: AttributeTarget, def: AttributeDef, value: unknown): Json | undefined {
  return coerceValue(def, value, target.where, target.urn !== undefined);
}

/** A single-valued attribute, simple or complex. */
function applyToSingle(container: JsonObject, target: AttributeTarget, change: Change): void {
  const name = target.def.name;
  if (change.op === 'remove') {
    delete container[name];
    return;
  }
  if (clearsReference(target.def, change)) {
    delete container[name];
    return;
  }
  const value = coerce(target, target.def, change.value);
  if (value === undefined) {
    if (clears(change)) delete container[name];
    return;
  }
  const current = container[name];
  // For a complex attribute both add (§3.5.2.1) and replace (§3.5.2.3) keep the
  // sub-attributes the value does not mention. A bare value (Entra's manager id)
  // names a different entity, so its old `$ref` and `displayName` must go.
  const merge = target.def.type === 'complex' && isObject(change.value) && isObject(current) && isObject(value);
  container[name] = merge ? { ...current, ...value } : value;
}

/** A sub-attribute of a single-valued complex attribute, e.g. `name.givenName`. */
function applyToSubAttribute(container: JsonObject, target: AttributeTarget, change: Change): void {
  const name = target.def.name;
  const sub = (target.sub as AttributeDef).name;
  const current = isObject(container[name]) ? (container[name] as JsonObject) : undefined;
  if (change.op === 'remove') {
    if (current) delete current[sub];
    return;
  }
  const value = coerce(target, target.sub as AttributeDef, change.value);
  if (value === undefined) {
    if (current && clears(change)) delete current[sub];
    return;
  }
  const parent = current ?? (container[name] = {});
  parent[sub] = value;
}

// ---------------------------------------------------------------------------
// Multi-valued attributes
// ---------------------------------------------------------------------------

/** A multi-valued attribute as a whole (no filter, no sub-attribute). */
function applyToList(container: JsonObject, target: AttributeTarget, change: Change): void {
  const name = target.def.name;
  const current = listOf(container[name]);
  if (change.op === 'remove') {
    // Entra removes group members by listing them: only those go (§3.5.2.2 allows a value here).
    if (change.value === undefined || change.value === null) delete container[name];
    else container[name] = removeListed(target, current, change.value);
    return;
  }
  const items = listOf(coerce(target, target.def, change.value));
  if (change.op === 'replace') {
    // §3.5.2.3: without a filter the whole list is replaced.
    container[name] = withPrimary(items, items);
    return;
  }
  // §3.5.2.1: new values are appended; an exact duplicate of a value already there is not added again.
  // Keys rather than pairwise comparison, because a group's members can be many.
  const seen = new Set(current.map(canonicalKey));
  const added: Json[] = [];
  for (const item of items) {
    const key = canonicalKey(item);
    if (seen.has(key)) continue;
    seen.add(key);
    added.push(item);
  }
  container[name] = withPrimary([...current, ...added], added);
}

/**
 * Elements listed in a remove's value are matched by their `value`
 * sub-attribute; `$ref` and `display` are ignored because clients fill them
 * differently (Entra sends `"$ref": null`). A listed item without `value`
 * matches on every other sub-attribute it names.
 */
function removeListed(target: AttributeTarget, current: Json[], value: unknown): Json[] {
  const subs = target.def.subAttributes;
  // Listed ids go into a set, so removing many members from a large group stays linear.
  const caseExact = findAttr(subs, 'value')?.caseExact ?? false;
  const valueKey = (v: Json | undefined): string | undefined =>
    typeof v === 'string' ? (caseExact ? v : v.toLowerCase()) : undefined;
  const ids = new Set<string>();
  const others: Json[] = [];
  for (const item of listOf(coerce(target, target.def, value))) {
    const key = isObject(item) ? valueKey(item.value) : undefined;
    if (key !== undefined) ids.add(key);
    else others.push(item);
  }
  const sameElement = (element: Json, item: Json): boolean => {
    if (!isObject(element) || !isObject(item)) return deepEqual(element, item);
    const keys = Object.keys(item).filter((k) => k !== '$ref' && k !== 'display');
    return keys.length > 0 && keys.every((k) => sameValue(findAttr(subs, k), element[k], item[k]));
  };
  return current.filter((element) => {
    const key = isObject(element) ? valueKey(element.value) : undefined;
    if (key !== undefined && ids.has(key)) return false;
    return !others.some((item) => sameElement(element, item));
  });
}

/**
 * Elements picked by a value filter (`emails[type eq "work"]`) or all elements
 * when only a sub-attribute is named (`emails.value`), RFC 7644 §3.5.2.
 */
function applyToSelection(container: JsonObject, target: AttributeTarget, change: Change): void {
  const name = target.def.name;
  const list = listOf(container[name]);
  const selected = new Set<Json>(list.filter((e) => isObject(e) && selects(target, e)));
  if (change.op === 'remove') {
    // §3.5.2.2: matching elements (or their sub-attribute) go; no match is not an error.
    if (target.sub) for (const element of selected) delete (element as JsonObject)[target.sub.name];
    else container[name] = list.filter((e) => !selected.has(e));
    return;
  }
  if (selected.size === 0) {
    addMaterialised(container, target, change, list);
    return;
  }
  const { next, touched } = target.sub
    ? { next: list, touched: setInElements(target, change, selected) }
    : replaceElements(target, change, list, selected);
  container[name] = withPrimary(next, touched);
}

function selects(target: AttributeTarget, element: JsonObject): boolean {
  if (!target.filter) return true;
  const subs = target.def.subAttributes;
  // Inside the brackets, paths are relative to one element: `type`, not `emails.type`.
  const caseExact = (path: AttrPath) => findAttr(subs, path.sub ?? path.attr)?.caseExact ?? false;
  return matches(target.filter, element, { caseExact });
}

/** `emails[type eq "work"].value`: set the sub-attribute on every matching element. */
function setInElements(target: AttributeTarget, change: Change, selected: Set<Json>): Json[] {
  const sub = target.sub as AttributeDef;
  const value = coerce(target, sub, change.value);
  for (const element of selected as Set<JsonObject>) {
    if (value !== undefined) element[sub.name] = value;
    else if (clears(change)) delete element[sub.name];
  }
  return [...selected];
}

/**
 * `addresses[type eq "work"]` with an element as value: `replace` swaps the
 * matching elements for it (§3.5.2.3), `add` merges it into them. A null
 * `replace` removes them.
 */
function replaceElements(
  target: AttributeTarget,
  change: Change,
  list: Json[],
  selected: Set<Json>,
): { next: Json[]; touched: Json[] } {
  const value = coerceElement(target, change.value);
  const next: Json[] = [];
  const touched: Json[] = [];
  for (const element of list) {
    if (!selected.has(element)) {
      next.push(element);
    } else if (value !== undefined) {
      const replacement = change.op === 'add' ? { ...(element as JsonObject), ...value } : { ...value };
      next.push(replacement);
      touched.push(replacement);
    } else if (!clears(change)) {
      next.push(element);
    }
  }
  return { next, touched };
}

/**
 * Nothing matched: create the element the filter describes, as Entra expects
 * for `phoneNumbers[type eq "mobile"].value`. Only filters made of `eq`
 * comparisons joined by `and` say what that element is; for any other the
 * operation has no target (§3.5.2.1, §3.5.2.3 `noTarget`).
 */
function addMaterialised(container: JsonObject, target: AttributeTarget, change: Change, list: Json[]): void {
  const template = target.filter ? equalityTemplate(target.filter) : {};
  if (!template) {
    throw badRequest(
      'noTarget',
      `No value of "${target.def.name}" matches the filter, and the filter does not describe a value to create.`,
    );
  }
  const value = target.sub ? coerce(target, target.sub, change.value) : coerceElement(target, change.value);
  if (value === undefined) return;
  const base = coerceElement(target, template) ?? {};
  const element: JsonObject = target.sub
    ? { ...base, [target.sub.name]: value }
    : { ...base, ...(value as JsonObject) };
  container[target.def.name] = withPrimary([...list, element], [element]);
}

/** The value a filter like `type eq "work" and primary eq true` describes, or undefined. */
function equalityTemplate(filter: Filter): JsonObject | undefined {
  const template: JsonObject = {};
  const operands = filter.kind === 'and' ? logicalOperands(filter) : [filter];
  for (const operand of operands) {
    if (operand.kind === 'and') {
      // A parenthesised `and` on the right; nesting depth is capped by the parser.
      const inner = equalityTemplate(operand);
      if (!inner || !mergeTemplate(template, inner)) return undefined;
      continue;
    }
    if (operand.kind !== 'compare' || operand.op !== 'eq' || operand.value === null) return undefined;
    if (operand.path.uri !== undefined || operand.path.sub !== undefined) return undefined;
    if (!mergeTemplate(template, { [operand.path.attr]: operand.value })) return undefined;
  }
  return template;
}

/** Adds `part` to `template`; false when the two disagree (`type eq "a" and type eq "b"`). */
function mergeTemplate(template: JsonObject, part: JsonObject): boolean {
  for (const [name, value] of Object.entries(part)) {
    if (isForbiddenKey(name)) return false;
    const key = keyCI(template, name);
    if (key !== undefined && !deepEqual(template[key], value)) return false;
    template[key ?? name] = value;
  }
  return true;
}

/** Coerces one element of a multi-valued attribute; a list of more than one is refused. */
function coerceElement(target: AttributeTarget, value: unknown): JsonObject | undefined {
  const items = listOf(coerce(target, target.def, value));
  if (items.length > 1) {
    throw badRequest('invalidValue', `Attribute "${target.where}" takes one value here, not a list.`);
  }
  return items.length === 1 && isObject(items[0]) ? items[0] : undefined;
}

/**
 * At most one element may be primary (RFC 7643 §2.4). When an operation adds
 * or changes an element with `primary: true`, the others lose it
 * (RFC 7644 §3.5.2); among several touched at once, the last one wins.
 */
function withPrimary(list: Json[], touched: Json[]): Json[] {
  const chosen = [...touched].reverse().find((e) => isObject(e) && e.primary === true);
  if (!chosen) return list;
  for (const element of list) {
    if (element !== chosen && isObject(element) && element.primary === true) element.primary = false;
  }
  return list;
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** The object holding an attribute: the resource, or its extension object (created on demand). */
function containerFor(doc: JsonObject, urn: string | undefined, create: boolean): JsonObject | undefined {
  if (urn === undefined) return doc;
  const key = keyCI(doc, urn) ?? urn;
  const current = doc[key];
  if (isObject(current)) return current;
  if (!create) return undefined;
  const ext: JsonObject = {};
  doc[key] = ext;
  return ext;
}

function getCI(obj: JsonObject, name: string): unknown {
  const key = keyCI(obj, name);
  return key === undefined ? undefined : obj[key];
}

function deleteCI(obj: JsonObject, name: string): void {
  const key = keyCI(obj, name);
  if (key !== undefined) delete obj[key];
}

function listOf(value: Json | undefined): Json[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** Compares two values of a sub-attribute, ignoring case unless the schema says caseExact. */
function sameValue(def: AttributeDef | undefined, a: Json | undefined, b: Json | undefined): boolean {
  if (typeof a === 'string' && typeof b === 'string' && !def?.caseExact) return a.toLowerCase() === b.toLowerCase();
  return deepEqual(a, b);
}

/** Structural equality of JSON values; object key order does not matter. */
function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
}

/** A string equal for structurally equal JSON values, whatever their key order. */
function canonicalKey(value: Json): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/**
 * Removes null values, empty lists and empty objects, at any depth, so that an
 * attribute emptied by an operation disappears (RFC 7643 §2.5: unassigned).
 */
function pruneObject(obj: JsonObject): void {
  for (const key of Object.keys(obj)) {
    const value = prune(obj[key]);
    if (value === undefined) delete obj[key];
    else obj[key] = value;
  }
}

function prune(value: Json): Json | undefined {
  if (value === null) return undefined;
  if (Array.isArray(value)) {
    const items = value.map(prune).filter((item): item is Json => item !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (isObject(value)) {
    pruneObject(value);
    return Object.keys(value).length > 0 ? value : undefined;
  }
  return value;
}

/** A short rendering of client input for an error detail. */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
