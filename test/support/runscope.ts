// A small interpreter for Runscope / BlazeMeter API-monitoring exports, the format of
// Okta's "SCIM 2.0 SPEC Test" (shared/conformance/okta-Okta-SCIM-20-SPEC-Test.json).
//
// Supported: request steps (method, url, headers {name: [values]}, body string,
// before_scripts/scripts, assertions, variable extraction) and pause steps (skipped:
// a runner may skip the pauses). `{{var}}` is substituted in url, headers, body and
// assertion values.
//
// Runscope semantics kept on purpose:
//   - `equal` compares string forms (JSON true equals 'true', 0 equals '0');
//   - `equal_number` compares numerically;
//   - `is_a_number` wants a JSON number: the string "5" is NOT a number (Okta rejects
//     string counters such as "totalResults": "1");
//   - `has_value` is "the array contains this value", `contains` is substring for a
//     string and membership for an array;
//   - `response_time` is in milliseconds.
import { readFile } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import nodeAssert from 'node:assert';
import vm from 'node:vm';

export interface StepResult {
  /** the step's `note` */
  name: string;
  method: string;
  /** the URL as sent (after substitution and encoding) */
  url: string;
  /** HTTP status, or 0 when the request itself failed */
  status: number;
  passed: boolean;
  failures: string[];
}

export interface RunscopeOptions {
  fetch?: typeof fetch;
  /** print nothing, but receive each step result as it completes */
  onStep?: (result: StepResult) => void;
}

interface RunscopeAssertion {
  comparison: string;
  source: string;
  value?: string | number | null;
  property?: string | null;
}

interface RunscopeVariable {
  source: string;
  name: string;
  property?: string | null;
}

interface RunscopeRequestStep {
  step_type: 'request';
  skipped?: boolean;
  note?: string;
  method: string;
  url: string;
  headers?: Record<string, string[] | string>;
  body?: string;
  assertions?: RunscopeAssertion[];
  variables?: RunscopeVariable[];
  scripts?: string[];
  before_scripts?: string[];
}

interface RunscopeOtherStep {
  step_type: string;
  skipped?: boolean;
  note?: string;
  duration?: number;
}

type RunscopeStep = RunscopeRequestStep | RunscopeOtherStep;

interface RunscopeExport {
  name?: string;
  steps: RunscopeStep[];
}

interface ResponseView {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
  jsonError?: string;
  timeMs: number;
  sizeBytes: number;
}

const MISSING = Symbol('missing');

// ---------------------------------------------------------------------------
// Variables

/** Replace every `{{name}}` whose name is known; unknown names are left as they are. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\{\{\s*([^{}\s]+)\s*\}\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : whole,
  );
}

function digits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(randomInt(10));
  return s;
}

function lowerLetters(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + randomInt(26));
  return s;
}

/**
 * The variables Okta's set-up script generates for the SPEC test.
 * @param baseUrl the SCIM base URL (…/scim/v2), without a trailing slash
 * @param token   the bearer token; `auth` is the whole Authorization header value
 */
export function oktaSpecVariables(baseUrl: string, token: string): Record<string, string> {
  const randomGivenName = 'Runscope' + digits(3);
  const randomFamilyName = String.fromCharCode(65 + randomInt(26)) + lowerLetters(8) + digits(3);
  const randomUsername = `${randomGivenName}${randomFamilyName}@atko.com`;
  return {
    SCIMBaseURL: baseUrl.replace(/\/+$/, ''),
    auth: `Bearer ${token}`,
    randomGivenName,
    randomFamilyName,
    randomEmail: randomUsername,
    randomUsername,
    randomUsernameCaps: randomUsername.toUpperCase(),
    InvalidUserEmail: 'abcdefgh@atko.com',
    UserIdThatDoesNotExist: '010101001010101011001010101011',
  };
}

// ---------------------------------------------------------------------------
// URL encoding

// Characters a browser leaves alone in a URL: unreserved + reserved (RFC 3986), so the
// `?`, `&`, `=`, `/`, `:` structure survives; `%` is kept only when it starts an escape.
const URL_SAFE = /[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]/;

/** Percent-encode what a browser / Runscope would: spaces → %20, `"` → %22, non-ASCII as UTF-8. */
export function encodeRequestUrl(url: string): string {
  let out = '';
  for (let i = 0; i < url.length; i++) {
    const ch = url[i];
    if (ch === '%' && /^[0-9A-Fa-f]{2}$/.test(url.slice(i + 1, i + 3))) {
      out += ch;
    } else if (URL_SAFE.test(ch)) {
      out += ch;
    } else {
      // handle surrogate pairs as one code point
      const cp = url.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      if (s.length === 2) i++;
      out += encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// JSON property paths: `Resources[0].name.familyName`, `emails[0].value`, `schemas`

export function getProperty(root: unknown, property: string | null | undefined): unknown {
  if (property === null || property === undefined || property === '') return root;
  const tokens: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\[["']([^"']*)["']\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(property)) !== null) {
    if (m[1] !== undefined) tokens.push(m[1]);
    else if (m[2] !== undefined) tokens.push(Number(m[2]));
    else tokens.push(m[3]);
  }
  let cur: unknown = root;
  for (const t of tokens) {
    if (cur === null || typeof cur !== 'object') return MISSING;
    if (typeof t === 'number') {
      if (!Array.isArray(cur) || t >= cur.length) return MISSING;
      cur = cur[t];
    } else {
      if (!Object.prototype.hasOwnProperty.call(cur, t)) return MISSING;
      cur = (cur as Record<string, unknown>)[t];
    }
  }
  return cur;
}

// ---------------------------------------------------------------------------
// Assertions

/** Runscope's string form of a value: strings as they are, scalars via String(), the rest as JSON. */
function stringForm(v: unknown): string {
  if (v === MISSING || v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function show(v: unknown): string {
  if (v === MISSING) return '(missing)';
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? s.slice(0, 200) + '…' : s;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function isEmpty(v: unknown): boolean {
  if (v === MISSING || v === undefined || v === null) return true;
  if (typeof v === 'string') return v.length === 0;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false; // numbers (including 0) and booleans (including false) have a value
}

function containsValue(actual: unknown, expected: string): boolean {
  if (Array.isArray(actual)) return actual.some((e) => stringForm(e) === expected);
  if (typeof actual === 'string') return actual.includes(expected);
  if (actual !== null && typeof actual === 'object') {
    return Object.values(actual as Record<string, unknown>).some((e) => stringForm(e) === expected);
  }
  return false;
}

function hasValue(actual: unknown, expected: string): boolean {
  if (Array.isArray(actual)) return actual.some((e) => stringForm(e) === expected);
  if (actual !== null && typeof actual === 'object') {
    return Object.values(actual as Record<string, unknown>).some((e) => stringForm(e) === expected);
  }
  return false;
}

/** Evaluate one comparison; returns an error text, or null when it holds. */
export function compare(comparison: string, actual: unknown, expectedRaw: string | number | null | undefined): string | null {
  const expected = expectedRaw === null || expectedRaw === undefined ? '' : String(expectedRaw);
  const got = show(actual);
  switch (comparison) {
    case 'equal':
      return actual !== MISSING && stringForm(actual) === expected ? null : `expected ${JSON.stringify(expected)}, got ${got}`;
    case 'not_equal':
      return stringForm(actual) !== expected ? null : `expected not ${JSON.stringify(expected)}, got ${got}`;
    case 'empty':
      return isEmpty(actual) ? null : `expected empty, got ${got}`;
    case 'not_empty':
      return !isEmpty(actual) ? null : `expected not empty, got ${got}`;
    case 'contains':
      return containsValue(actual, expected) ? null : `expected to contain ${JSON.stringify(expected)}, got ${got}`;
    case 'does_not_contain':
      return !containsValue(actual, expected) ? null : `expected not to contain ${JSON.stringify(expected)}, got ${got}`;
    case 'has_value':
      return hasValue(actual, expected) ? null : `expected an array holding ${JSON.stringify(expected)}, got ${got}`;
    case 'has_key':
      return actual !== null && typeof actual === 'object' && !Array.isArray(actual) &&
        Object.prototype.hasOwnProperty.call(actual, expected)
        ? null
        : `expected an object with key ${JSON.stringify(expected)}, got ${got}`;
    case 'is_null':
      return actual === null ? null : `expected null, got ${got}`;
    case 'is_a_number':
      // deliberately strict: a JSON string such as "5" is not a number
      return typeof actual === 'number' && Number.isFinite(actual) ? null : `expected a JSON number, got ${got}`;
    case 'equal_number': {
      const a = toNumber(actual);
      const e = toNumber(expected);
      return a !== undefined && e !== undefined && a === e ? null : `expected number ${expected}, got ${got}`;
    }
    case 'is_less_than':
    case 'is_less_than_or_equal':
    case 'is_greater_than':
    case 'is_greater_than_or_equal': {
      const a = toNumber(actual);
      const e = toNumber(expected);
      if (a === undefined || e === undefined) return `expected a number to compare with ${expected}, got ${got}`;
      const ok =
        comparison === 'is_less_than' ? a < e :
        comparison === 'is_less_than_or_equal' ? a <= e :
        comparison === 'is_greater_than' ? a > e : a >= e;
      return ok ? null : `expected ${comparison.replace(/_/g, ' ')} ${expected}, got ${got}`;
    }
    default:
      return `unsupported comparison ${JSON.stringify(comparison)}`;
  }
}

function sourceValue(source: string, property: string | null | undefined, res: ResponseView): unknown {
  switch (source) {
    case 'response_status':
      return res.status;
    case 'response_json':
      if (res.jsonError !== undefined) return MISSING;
      return getProperty(res.json, property);
    case 'response_headers': {
      if (!property) return Object.fromEntries(res.headers.entries());
      const v = res.headers.get(property);
      return v === null ? MISSING : v;
    }
    case 'response_text':
      return res.text;
    case 'response_time':
      return res.timeMs;
    case 'response_size':
      return res.sizeBytes;
    default:
      return MISSING;
  }
}

function describeAssertion(a: RunscopeAssertion, value: string): string {
  const where = a.property ? `${a.source} ${a.property}` : a.source;
  return value === '' ? `${where} ${a.comparison}` : `${where} ${a.comparison} ${JSON.stringify(value)}`;
}

// ---------------------------------------------------------------------------
// Scripts (Runscope runs them in a JS sandbox with chai's `assert`; node:assert plus a
// few chai helpers is enough for what the Okta export uses)

function makeAssert(): unknown {
  const a = ((value: unknown, message?: string) => nodeAssert.ok(value, message)) as ((v: unknown, m?: string) => void) &
    Record<string, unknown>;
  Object.assign(a, nodeAssert);
  const check = (cond: boolean, message: string | undefined, fallback: string) => {
    if (!cond) throw new nodeAssert.AssertionError({ message: message ?? fallback });
  };
  Object.assign(a, {
    isTrue: (v: unknown, m?: string) => check(v === true, m, `expected ${show(v)} to be true`),
    isFalse: (v: unknown, m?: string) => check(v === false, m, `expected ${show(v)} to be false`),
    isArray: (v: unknown, m?: string) => check(Array.isArray(v), m, `expected ${show(v)} to be an array`),
    isNumber: (v: unknown, m?: string) => check(typeof v === 'number', m, `expected ${show(v)} to be a number`),
    isString: (v: unknown, m?: string) => check(typeof v === 'string', m, `expected ${show(v)} to be a string`),
    isObject: (v: unknown, m?: string) => check(v !== null && typeof v === 'object', m, `expected ${show(v)} to be an object`),
    isDefined: (v: unknown, m?: string) => check(v !== undefined, m, `expected value to be defined`),
    isUndefined: (v: unknown, m?: string) => check(v === undefined, m, `expected ${show(v)} to be undefined`),
    isNull: (v: unknown, m?: string) => check(v === null, m, `expected ${show(v)} to be null`),
    isNotNull: (v: unknown, m?: string) => check(v !== null, m, `expected value not to be null`),
    include: (hay: unknown, needle: unknown, m?: string) =>
      check(
        typeof hay === 'string' ? hay.includes(String(needle)) : Array.isArray(hay) ? hay.includes(needle) : false,
        m,
        `expected ${show(hay)} to include ${show(needle)}`,
      ),
    lengthOf: (v: unknown, n: number, m?: string) =>
      check((v as { length?: number } | null)?.length === n, m, `expected ${show(v)} to have length ${n}`),
    property: (v: unknown, key: string, m?: string) =>
      check(v !== null && typeof v === 'object' && key in (v as object), m, `expected ${show(v)} to have property ${key}`),
  });
  return a;
}

function runScript(
  code: string,
  vars: Record<string, string>,
  request: { method: string; url: string; headers: Record<string, string>; body: string },
  res: ResponseView | undefined,
): string | null {
  if (!code.trim()) return null;
  const responseHeaders: Record<string, string[]> = {};
  res?.headers.forEach((v, k) => {
    (responseHeaders[k] ??= []).push(v);
  });
  const sandbox = {
    assert: makeAssert(),
    log: () => undefined,
    console: { log: () => undefined, error: () => undefined, warn: () => undefined },
    variables: {
      get: (name: string) => vars[name],
      set: (name: string, value: unknown) => {
        vars[name] = value === undefined || value === null ? '' : String(value);
      },
    },
    request,
    response: res
      ? {
          status: res.status,
          headers: responseHeaders,
          body: res.text,
          json: res.json,
          response_time_ms: res.timeMs,
          size_bytes: res.sizeBytes,
        }
      : undefined,
  };
  try {
    vm.runInNewContext(code, sandbox, { timeout: 2000, filename: 'runscope-script.js' });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

// ---------------------------------------------------------------------------
// Runner

function normalizeHeaders(raw: Record<string, string[] | string> | undefined, vars: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    if (values.length === 0) continue;
    out[name] = values.map((v) => substitute(String(v), vars)).join(', ');
  }
  return out;
}

async function executeStep(step: RunscopeRequestStep, vars: Record<string, string>, doFetch: typeof fetch): Promise<StepResult> {
  const name = step.note?.trim() || `${step.method} ${step.url}`;
  const method = step.method.toUpperCase();
  const url = encodeRequestUrl(substitute(step.url, vars));
  const headers = normalizeHeaders(step.headers, vars);
  const body = step.body ? substitute(step.body, vars) : '';
  const failures: string[] = [];
  const unresolved = new Set<string>();
  for (const text of [step.url, step.body ?? '', ...Object.values(step.headers ?? {}).flat()]) {
    for (const m of String(text).matchAll(/\{\{\s*([^{}\s]+)\s*\}\}/g)) {
      if (!Object.prototype.hasOwnProperty.call(vars, m[1])) unresolved.add(m[1]);
    }
  }
  if (unresolved.size > 0) failures.push(`unresolved variable(s): ${[...unresolved].join(', ')}`);

  for (const script of step.before_scripts ?? []) {
    const err = runScript(script, vars, { method, url, headers, body }, undefined);
    if (err) failures.push(`before-script: ${err}`);
  }

  let res: ResponseView;
  const started = performance.now();
  try {
    const response = await doFetch(url, {
      method,
      headers,
      body: body !== '' && method !== 'GET' && method !== 'HEAD' ? body : undefined,
      redirect: 'manual',
    });
    const text = await response.text();
    const timeMs = performance.now() - started;
    let json: unknown;
    let jsonError: string | undefined;
    try {
      json = text === '' ? undefined : JSON.parse(text);
      if (text === '') jsonError = 'empty body';
    } catch (err) {
      jsonError = err instanceof Error ? err.message : String(err);
    }
    res = { status: response.status, headers: response.headers, text, json, jsonError, timeMs, sizeBytes: Buffer.byteLength(text) };
  } catch (err) {
    const cause = err instanceof Error ? `${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ''}` : String(err);
    return { name, method, url, status: 0, passed: false, failures: [...failures, `request failed: ${cause}`] };
  }

  for (const a of step.assertions ?? []) {
    const expected = a.value === null || a.value === undefined ? '' : substitute(String(a.value), vars);
    if (a.source === 'response_json' && res.jsonError !== undefined) {
      failures.push(`${describeAssertion(a, expected)}: response body is not JSON (${res.jsonError}); body: ${show(res.text)}`);
      continue;
    }
    const actual = sourceValue(a.source, a.property, res);
    const err = compare(a.comparison, actual, expected);
    if (err) failures.push(`${describeAssertion(a, expected)}: ${err}`);
  }

  for (const v of step.variables ?? []) {
    const value =
      v.source === 'response_json' && res.jsonError !== undefined ? MISSING : sourceValue(v.source, v.property, res);
    if (value !== MISSING && value !== undefined) vars[v.name] = stringForm(value);
  }

  for (const script of step.scripts ?? []) {
    const err = runScript(script, vars, { method, url, headers, body }, res);
    if (err) failures.push(`script: ${err}`);
  }

  return { name, method, url, status: res.status, passed: failures.length === 0, failures };
}

/**
 * Run every request step of a Runscope export in order (pauses are skipped) and
 * return one result per request step. Steps marked `skipped` are not run.
 * `vars` is copied; variables extracted by steps are added to the copy.
 */
export async function runRunscope(
  file: string,
  vars: Record<string, string>,
  opts: RunscopeOptions = {},
): Promise<StepResult[]> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as RunscopeExport;
  if (!doc || !Array.isArray(doc.steps)) throw new Error(`${file}: not a Runscope export (no "steps" array)`);
  const doFetch = opts.fetch ?? globalThis.fetch;
  const scope: Record<string, string> = { ...vars };
  const results: StepResult[] = [];
  for (const step of doc.steps) {
    if (step.skipped) continue;
    if (step.step_type === 'pause') continue;
    if (step.step_type !== 'request') {
      const r: StepResult = {
        name: step.note ?? step.step_type,
        method: '',
        url: '',
        status: 0,
        passed: false,
        failures: [`unsupported step_type ${JSON.stringify(step.step_type)}`],
      };
      results.push(r);
      opts.onStep?.(r);
      continue;
    }
    const r = await executeStep(step as RunscopeRequestStep, scope, doFetch);
    results.push(r);
    opts.onStep?.(r);
  }
  return results;
}
