/**
 * Small helpers for HTTP tests against a running server: a SCIM client over
 * global fetch, SCIM error assertions, request-body builders, and the location
 * of the read-only shared data next to the repository.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const SEARCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
export const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A path under ../shared (read-only data kept next to the repository, never copied into it). */
export function sharedPath(...parts: string[]): string {
  return path.resolve(repoRoot, '../shared', ...parts);
}

/**
 * Whether shared data is present. When it is absent, a test must fail under
 * CI=true and be skipped with this note otherwise.
 */
export function sharedMissing(file: string): string | undefined {
  return existsSync(file) ? undefined : `shared data not found: ${file}`;
}

/** Any JSON value a test reads from a response; tests narrow it with assertions. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Body = any;

export interface ScimResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  body: Body;
  /** "METHOD /path -> status body…", for assertion messages. */
  describe: string;
}

export interface RequestOptions {
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is (takes precedence over `body`). */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Override the client's token; null sends no Authorization header. */
  token?: string | null;
  /** Content-Type for a body; default application/scim+json. */
  contentType?: string;
}

export class ScimClient {
  constructor(
    readonly scimUrl: string,
    readonly token: string,
    /** Headers sent with every request (e.g. what an IdP always sends). */
    readonly defaultHeaders: Record<string, string> = {},
  ) {}

  async request(method: string, pathAndQuery: string, opts: RequestOptions = {}): Promise<ScimResponse> {
    const headers: Record<string, string> = { accept: 'application/scim+json', ...this.defaultHeaders };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | undefined;
    if (opts.rawBody !== undefined) body = opts.rawBody;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      headers['content-type'] = opts.contentType ?? 'application/scim+json';
    }
    Object.assign(headers, opts.headers ?? {});
    const url = /^https?:/.test(pathAndQuery) ? pathAndQuery : `${this.scimUrl}${pathAndQuery}`;
    return send(url, { method, headers, body });
  }

  get(p: string, opts?: RequestOptions) {
    return this.request('GET', p, opts);
  }
  post(p: string, body: unknown, opts?: RequestOptions) {
    return this.request('POST', p, { ...opts, body });
  }
  put(p: string, body: unknown, opts?: RequestOptions) {
    return this.request('PUT', p, { ...opts, body });
  }
  patch(p: string, body: unknown, opts?: RequestOptions) {
    return this.request('PATCH', p, { ...opts, body });
  }
  delete(p: string, opts?: RequestOptions) {
    return this.request('DELETE', p, opts);
  }
}

/** A raw fetch that reads the whole answer and parses JSON when it can. */
export async function send(url: string, init: { method: string; headers?: Record<string, string>; body?: string }): Promise<ScimResponse> {
  const res = await fetch(url, { method: init.method, headers: init.headers, body: init.body, redirect: 'manual' });
  const text = await res.text();
  let body: Body;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  const shown = text.length > 600 ? `${text.slice(0, 600)}…` : text;
  const where = url.replace(/^https?:\/\/[^/]+/, '');
  return { status: res.status, headers: res.headers, text, body, describe: `${init.method} ${where} -> ${res.status} ${shown}` };
}

/** RFC 7644 §3.1/§8.1: SCIM responses are application/scim+json. */
export function assertScimJson(res: ScimResponse): void {
  const type = res.headers.get('content-type') ?? '';
  assert.match(type, /^application\/scim\+json\b/i, `Content-Type should be application/scim+json: ${res.describe}`);
  assert.ok(res.body !== undefined, `body should be JSON: ${res.describe}`);
}

/**
 * RFC 7644 §3.12: status first, then scimType, then the error body shape:
 * application/scim+json, schemas [Error], status as a string, a detail.
 */
export function assertScimError(res: ScimResponse, status: number, scimType?: string, detail?: RegExp): void {
  assert.equal(res.status, status, `expected HTTP ${status}: ${res.describe}`);
  if (scimType !== undefined) assert.equal(res.body?.scimType, scimType, `expected scimType ${scimType}: ${res.describe}`);
  assertScimJson(res);
  assert.deepEqual(res.body.schemas, [ERROR_SCHEMA], `error schemas: ${res.describe}`);
  assert.equal(res.body.status, String(status), `error "status" must be the string "${status}": ${res.describe}`);
  assert.equal(typeof res.body.detail, 'string', `error detail should be a string: ${res.describe}`);
  assert.ok(res.body.detail.length > 0, `error detail should not be empty: ${res.describe}`);
  if (detail) assert.match(res.body.detail, detail, `error detail: ${res.describe}`);
}

export function assertStatus(res: ScimResponse, status: number): void {
  assert.equal(res.status, status, `expected HTTP ${status}: ${res.describe}`);
}

/** A unique email address for one test run. */
export function uniqueEmail(local = 'user', domain = 'example.com'): string {
  return `${local}.${randomBytes(4).toString('hex')}@${domain}`;
}

/** A minimal valid user whose userName is also its primary work email. */
export function userBody(userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemas: [USER_SCHEMA],
    userName,
    name: { givenName: 'Test', familyName: 'User' },
    emails: [{ value: userName, type: 'work', primary: true }],
    displayName: 'Test User',
    active: true,
    ...extra,
  };
}

export interface PatchOperationBody {
  op: string;
  path?: string;
  value?: unknown;
}

export function patchBody(...ops: PatchOperationBody[]): Record<string, unknown> {
  return { schemas: [PATCH_SCHEMA], Operations: ops };
}

/** The `filter` query for a list request, percent-encoded. */
export function filterQuery(filter: string, more = ''): string {
  return `/Users?filter=${encodeURIComponent(filter)}${more}`;
}
