/**
 * Shared pieces of the hardening tests: the IdP fixtures (read at run time
 * from ../shared/fixtures), placeholder filling, fast-check arbitraries that
 * mutate strings and JSON the way a hostile or broken client would, and a
 * snapshot of the tenant tables.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/store/db.js';
import { sharedMissing, sharedPath } from '../support/http.js';

/** One seed for every property, so a failure reproduces; override with HARDENING_SEED. */
export const SEED = Number(process.env.HARDENING_SEED ?? 20_240_611);

// ---------------------------------------------------------------------------
// Fixtures

export interface FixtureStep {
  idp: string;
  name: string;
  method: string;
  path: string;
  body?: unknown;
}

export const FIXTURE_FILES = ['okta.json', 'entra.json'].map((f) => sharedPath('fixtures', f));

/** The steps of every IdP fixture, or a note saying which file is missing. */
export function loadFixtures(): { steps: FixtureStep[] } | { missing: string } {
  const steps: FixtureStep[] = [];
  for (const file of FIXTURE_FILES) {
    const missing = sharedMissing(file);
    if (missing) return { missing };
    const idp = file.replace(/^.*\/|\.json$/g, '');
    const data = JSON.parse(readFileSync(file, 'utf8')) as { steps: Omit<FixtureStep, 'idp'>[] };
    for (const s of data.steps) steps.push({ idp, ...s });
  }
  return { steps };
}

/** Shared data absent: fail under CI=true, otherwise skip with a visible note. */
export function missingData(name: string, note: string): void {
  if (process.env.CI === 'true') test(name, () => assert.fail(`${note} (required when CI=true)`));
  else test(name, { skip: note }, () => {});
}

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

export function fillText(text: string, vars: Record<string, string>, encode: boolean): string {
  return text.replace(PLACEHOLDER, (_w, name: string) => {
    const v = Object.hasOwn(vars, name) ? vars[name] : `unset-${name}`;
    return encode ? encodeURIComponent(v) : v;
  });
}

export function fillJson(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string') return fillText(value, vars, false);
  if (Array.isArray(value)) return value.map((v) => fillJson(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillJson(v, vars)]));
  return value;
}

// ---------------------------------------------------------------------------
// String mutations

/** Characters that break tokenisers: quotes, escapes, brackets, controls, lone surrogates, astral and percent signs. */
export const HOSTILE_CHARS = [
  '"', '\\', '(', ')', '[', ']', ' ', '\t', '\n', '\r', '\u0000', '\u001f', '\u007f', '\uD800', '\uDFFF', '\uFEFF',
  'é', '𝄞', '.', ':', '$', '-', '_', '0', '9', 'e', 'E', '+', '%', '%2f', '%00', '%zz', '/', "'", ',', '&', '=', '?', '#', '*', '\u2028',
];

/** Filter vocabulary, so mutations often stay close to the grammar. */
export const FILTER_WORDS = [
  ' and ', ' or ', 'not ', ' pr', ' eq ', ' ne ', ' co ', ' sw ', ' ew ', ' gt ', ' ge ', ' lt ', ' le ', 'true', 'false', 'null',
  'urn:ietf:params:scim:schemas:core:2.0:User:', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:',
  'emails[', 'members[', ']', '].value', '.value', '"x"', '"', '(', ')', '1e309', '-0', '00', '1.', '"\\u12"', '"\\uD800"', 'userName', '$ref',
];

export type StringMutation =
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'repeat'; at: number; text: string; times: number }
  | { kind: 'replace'; at: number; text: string };

const position = fc.double({ min: 0, max: 1, noNaN: true });

export const stringMutation: fc.Arbitrary<StringMutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: position, text: fc.oneof(fc.constantFrom(...HOSTILE_CHARS), fc.constantFrom(...FILTER_WORDS), fc.string({ maxLength: 4, unit: 'binary' })) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: position, length: fc.integer({ min: 1, max: 8 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: position, length: fc.integer({ min: 1, max: 20 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('repeat' as const), at: position, text: fc.constantFrom('(', '[', 'not (', ' and a eq 1', ')', '"', '\\'), times: fc.integer({ min: 2, max: 300 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('replace' as const), at: position, text: fc.oneof(fc.constantFrom(...HOSTILE_CHARS), fc.constantFrom(...FILTER_WORDS)) }), weight: 2 },
);

export function applyStringMutation(s: string, m: StringMutation): string {
  const i = Math.min(s.length, Math.floor(m.at * (s.length + 1)));
  switch (m.kind) {
    case 'insert':
      return s.slice(0, i) + m.text + s.slice(i);
    case 'delete':
      return s.slice(0, i) + s.slice(i + m.length);
    case 'truncate':
      return s.slice(0, i);
    case 'duplicate':
      return s.slice(0, i + m.length) + s.slice(i);
    case 'repeat':
      return s.slice(0, i) + m.text.repeat(m.times) + s.slice(i);
    case 'replace':
      return s.slice(0, i) + m.text + s.slice(i + 1);
  }
}

export const stringMutations = fc.array(stringMutation, { minLength: 1, maxLength: 4 });

export function mutateString(s: string, ms: StringMutation[]): string {
  return ms.reduce(applyStringMutation, s);
}

// ---------------------------------------------------------------------------
// JSON mutations

export const INTERESTING_KEYS = [
  '__proto__', 'constructor', 'prototype', 'op', 'Op', 'path', 'value', 'Operations', 'operations', 'schemas', 'members',
  'userName', 'emails', 'id', 'active', 'meta', 'password', 'groups', 'displayName', 'name', 'externalId', 'primary',
  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', 'urn:ietf:params:scim:schemas:core:2.0:User:userName', 'urn:x:y:z',
];

/** Values that are type confusions for SCIM attributes. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, '', ' ', 'True', 'False', 'false', 0, -1, 1.5, -0.0, 1e308, 2 ** 53 + 1, true, false, [], {}, [null], [[]], [{}], { value: null },
    { polluted: true }, JSON.parse('{"__proto__":{"polluted":true}}'), JSON.parse('{"constructor":{"prototype":{"polluted":true}}}'), 'x'.repeat(5_000), '\u0000', '\uD800', 'a@b.c', '1970-01-01T00:00:00Z', 'not a date'),
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
);

export type JsonMutation = {
  at: number;
  action: 'replace' | 'delete' | 'addKey' | 'wrap' | 'unwrap' | 'stringify' | 'nullify' | 'nest' | 'duplicateKeyCase';
  key: string;
  value: unknown;
  depth: number;
};

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  at: fc.nat(),
  action: fc.constantFrom('replace', 'delete', 'addKey', 'wrap', 'unwrap', 'stringify', 'nullify', 'nest', 'duplicateKeyCase'),
  key: fc.oneof(fc.constantFrom(...INTERESTING_KEYS), fc.string({ maxLength: 8 })),
  value: hostileJson,
  depth: fc.integer({ min: 1, max: 40 }),
});

export const jsonMutations = fc.array(jsonMutation, { minLength: 1, maxLength: 3 });

type Container = Record<string, unknown> | unknown[];
interface Slot {
  parent: Container | undefined;
  key: string | number | undefined;
}

function slots(root: unknown): Slot[] {
  const out: Slot[] = [{ parent: undefined, key: undefined }];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((item, i) => { out.push({ parent: v, key: i }); walk(item); });
    else if (v && typeof v === 'object') for (const k of Object.keys(v)) { out.push({ parent: v as Container, key: k }); walk((v as Record<string, unknown>)[k]); }
  };
  walk(root);
  return out;
}

/** Sets an own property even for "__proto__", as JSON.parse does. */
function define(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Applies one mutation to a JSON document (the document is copied first) and returns the new document. */
export function applyJsonMutation(doc: unknown, m: JsonMutation): unknown {
  const root = { v: structuredClone(doc) as unknown };
  const all = slots(root.v);
  const slot = all[m.at % all.length];
  const get = (): unknown => (slot.parent === undefined ? root.v : (slot.parent as Record<string, unknown>)[slot.key as string]);
  const set = (v: unknown) => {
    if (slot.parent === undefined) root.v = v;
    else if (Array.isArray(slot.parent)) slot.parent[slot.key as number] = v;
    else define(slot.parent, slot.key as string, v);
  };
  const current = get();
  switch (m.action) {
    case 'replace':
      set(structuredClone(m.value));
      break;
    case 'delete':
      if (slot.parent === undefined) root.v = undefined;
      else if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
      else delete slot.parent[slot.key as string];
      break;
    case 'addKey':
      if (current && typeof current === 'object' && !Array.isArray(current)) define(current as Record<string, unknown>, m.key, structuredClone(m.value));
      else if (Array.isArray(current)) current.push(structuredClone(m.value));
      else set({ [m.key]: current });
      break;
    case 'wrap':
      set([current]);
      break;
    case 'unwrap':
      if (Array.isArray(current)) set(current[0]);
      else if (current && typeof current === 'object') set(Object.values(current)[0]);
      break;
    case 'stringify':
      set(typeof current === 'string' ? Number(current) : JSON.stringify(current) ?? 'undefined');
      break;
    case 'nullify':
      set(null);
      break;
    case 'nest': {
      let v: unknown = current;
      for (let i = 0; i < m.depth; i++) v = i % 2 ? [v] : { value: v };
      set(v);
      break;
    }
    case 'duplicateKeyCase':
      if (current && typeof current === 'object' && !Array.isArray(current)) {
        const k = Object.keys(current)[0];
        if (k !== undefined) define(current as Record<string, unknown>, k.toUpperCase() === k ? k.toLowerCase() : k.toUpperCase(), structuredClone(m.value));
      }
      break;
  }
  // What a server would see: the document as JSON.parse would build it.
  const text = JSON.stringify(root.v);
  return text === undefined ? undefined : JSON.parse(text);
}

export function mutateJson(doc: unknown, ms: JsonMutation[]): unknown {
  return ms.reduce(applyJsonMutation, doc);
}

// ---------------------------------------------------------------------------
// Store snapshots

/** Every row of the tenant tables, in a stable order. */
export async function snapshotTenantTables(db: Kysely<Database>) {
  return {
    users: await db.selectFrom('users').selectAll().orderBy('seq').execute(),
    groups: await db.selectFrom('groups').selectAll().orderBy('seq').execute(),
    group_members: await db.selectFrom('group_members').selectAll().orderBy('group_id').orderBy('user_id').execute(),
  };
}

/** Prototype keys right now, to prove no request polluted Object.prototype. */
export function prototypeKeys(): string[] {
  return [...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Array.prototype)].sort();
}
