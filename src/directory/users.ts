/**
 * The user lifecycle: create, read, replace, patch, deactivate, reactivate,
 * delete (hidden from SCIM, data kept) and purge (data gone), with Plumm's
 * rules: userName and the sign-in email never change, and every write is
 * all or nothing.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { ScimError, badRequest, conflict, notFound, preconditionFailed } from '../scim/errors.js';
import { type PatchOperation, applyPatch } from '../scim/patch.js';
import { type JsonObject, isObject, normalizeResource, primaryValue } from '../scim/resource.js';
import { USER_SCHEMA, userResourceType } from '../scim/schema.js';
import { type Database, isResourceId } from '../store/db.js';
import { type SqlDialect, sqliteDialect } from '../store/dialect.js';
import * as store from '../store/users.js';
import { removeUserEverywhere } from '../store/groups.js';
import type { Organization } from './organizations.js';

const EMAIL = /^[^\s@"<>()[\]\\,;:]+@[^\s@"<>()[\]\\,;:]+\.[^\s@"<>()[\]\\,;:.]+$/;

export function isEmail(value: string): boolean {
  return value.length <= 320 && EMAIL.test(value);
}

export interface RenderContext {
  /** Absolute URL of the SCIM root, e.g. https://scim.plumm.example/scim/v2 */
  scimBase: string;
}

/** Optimistic writes retry this often before answering 503. */
export const WRITE_ATTEMPTS = 12;

/** A short random wait, growing with the attempt, so racing writers spread out. */
export function backoff(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(50, 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Too many concurrent writers on one resource: a temporary condition, so 503 with Retry-After. */
export function busy(what: 'user' | 'group'): ScimError {
  const err = new ScimError(503, `The ${what} is being changed by many requests at once; retry shortly.`);
  err.retryAfterSeconds = 1;
  return err;
}

/** Indexed text attributes are capped well below any store's index entry limit. */
export const MAX_INDEXED_LENGTH = 512;

export function checkIndexedLength(name: string, value: string | null | undefined): void {
  if (typeof value === 'string' && value.length > MAX_INDEXED_LENGTH) {
    throw badRequest('invalidValue', `Attribute "${name}" is longer than ${MAX_INDEXED_LENGTH} characters.`);
  }
}

export function etagOf(version: number): string {
  return `W/"${version}"`;
}

/** A stored user as a SCIM resource (RFC 7643 §4.1), with meta and schemas filled in. */
export function renderUser(row: store.UserRow, ctx: RenderContext, extra?: JsonObject): JsonObject {
  const data = JSON.parse(row.data) as JsonObject;
  const schemas: string[] = [USER_SCHEMA];
  for (const key of Object.keys(data)) if (key.toLowerCase().startsWith('urn:')) schemas.push(key);
  const { userName, ...rest } = data;
  return {
    schemas,
    id: row.id,
    userName,
    ...rest,
    ...extra,
    meta: {
      resourceType: 'User',
      created: row.created_at,
      lastModified: row.updated_at,
      location: `${ctx.scimBase}/Users/${row.id}`,
      version: etagOf(row.version),
    },
  };
}

function emailValues(data: JsonObject): string[] {
  if (!Array.isArray(data.emails)) return [];
  return data.emails.filter(isObject).map((e) => e.value).filter((v): v is string => typeof v === 'string' && v !== '');
}

/** The value of the primary email (the one marked primary, else the first), as sent. */
function primaryEmail(data: JsonObject): string | null {
  const primary = primaryValue(data.emails);
  return primary && typeof primary.value === 'string' && primary.value !== '' ? primary.value : null;
}

/**
 * The address a user signs in with: the primary email when it is an address,
 * else the first email that is one, else the userName where usernames are emails.
 */
function signInEmail(org: Organization, data: JsonObject): string | null {
  const primary = primaryEmail(data);
  const candidates = primary ? [primary, ...emailValues(data)] : emailValues(data);
  const found = candidates.find(isEmail);
  if (found) return found;
  if (org.usernameFormat === 'email' && typeof data.userName === 'string' && isEmail(data.userName)) return data.userName;
  return null;
}

/** Checks a user document against the organization's rules and returns the columns to store. */
function validate(org: Organization, data: JsonObject): store.UserFields {
  const userName = data.userName;
  if (typeof userName !== 'string' || userName.trim() === '') {
    throw badRequest('invalidValue', 'Attribute "userName" is required.');
  }
  if (userName.length > 320) throw badRequest('invalidValue', 'Attribute "userName" is longer than 320 characters.');
  if (org.usernameFormat === 'email' && !isEmail(userName)) {
    throw badRequest(
      'invalidValue',
      `userName "${userName}" is not an email address. Plumm signs users in by email: set the application's username format to Email in your identity provider.`,
    );
  }
  const email = signInEmail(org, data);
  if (email === null) {
    throw badRequest(
      'invalidValue',
      'The user has no email address. Plumm signs users in by their primary email: send one in "emails".',
    );
  }
  if (data.active === undefined) data.active = true;
  const externalId = typeof data.externalId === 'string' ? data.externalId : null;
  checkIndexedLength('externalId', externalId);
  return { userName, externalId, signInEmail: email, active: data.active === true, data };
}

const same = (a: string | null, b: string | null) => (a ?? '').toLowerCase() === (b ?? '').toLowerCase();

/** Refuses a change of userName, primary email or sign-in address; the same value in another case is no change. */
function checkImmutable(org: Organization, before: JsonObject, after: JsonObject): void {
  if (!same(String(before.userName), typeof after.userName === 'string' ? after.userName : null)) {
    throw badRequest(
      'mutability',
      "userName cannot be changed: Plumm does not support changing a user's username. Deprovision the user and create a new one instead.",
    );
  }
  if (!same(primaryEmail(before), primaryEmail(after)) || !same(signInEmail(org, before), signInEmail(org, after))) {
    throw badRequest(
      'mutability',
      "The primary email cannot be changed: Plumm does not support changing a user's email address. Deprovision the user and create a new one instead.",
    );
  }
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || e?.code === '23505' || /UNIQUE constraint failed/i.test(e?.message ?? '');
}

function duplicate(userName: string): ScimError {
  return conflict(`A user with userName "${userName}" already exists in this organization.`);
}

export interface UpdateResult {
  row: store.UserRow;
  /** Whether the user was active before the change, so callers can tell a deactivation from an update. */
  wasActive: boolean;
}

export class UserService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect = sqliteDialect,
  ) {}

  async create(org: Organization, body: unknown): Promise<store.UserRow> {
    const data = normalizeResource(userResourceType, body);
    const fields = validate(org, data);
    const now = new Date().toISOString();
    const row: store.UserRow = {
      id: randomUUID(),
      org_id: org.id,
      ...store.toColumns(fields),
      version: 1,
      created_at: now,
      updated_at: now,
      deleted_at: null,
    };
    try {
      await store.insertUser(this.db, row);
    } catch (err) {
      // The database's unique index decides, so concurrent creates cannot both win.
      if (isUniqueViolation(err)) throw duplicate(fields.userName);
      throw err;
    }
    return row;
  }

  async get(org: Organization, id: string): Promise<store.UserRow> {
    // Ids are UUIDs: anything else names no user, and never reaches the store.
    const row = isResourceId(id) ? await store.findLiveUser(this.db, org.id, id) : undefined;
    if (!row) throw notFound(`User "${id}" not found.`);
    return row;
  }

  async list(org: Organization, q: store.ListQuery) {
    return store.listUsers(this.db, org.id, q, this.dialect);
  }

  /** PUT: the body replaces every client-writable attribute (RFC 7644 §3.5.1). */
  async replace(org: Organization, id: string, body: unknown, ifMatch?: string): Promise<UpdateResult> {
    const replacement = normalizeResource(userResourceType, body);
    return this.update(org, id, ifMatch, () => replacement);
  }

  async patch(org: Organization, id: string, ops: PatchOperation[], ifMatch?: string): Promise<UpdateResult> {
    return this.update(org, id, ifMatch, (current) => applyPatch(userResourceType, current, ops));
  }

  /**
   * Read, change and write under an optimistic version check, retried when a
   * concurrent writer (this instance or another) committed in between.
   */
  private async update(org: Organization, id: string, ifMatch: string | undefined, change: (current: JsonObject) => JsonObject): Promise<UpdateResult> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const row = await this.get(org, id);
      checkIfMatch(ifMatch, row.version);
      const current = JSON.parse(row.data) as JsonObject;
      const next = change(structuredClone(current));
      // Leaving active out (PUT) or removing it (PATCH) keeps the user's state:
      // reactivation is always something an IdP asks for.
      if (next.active === undefined) next.active = current.active ?? true;
      // Immutability first: removing userName is a mutability error (RFC 7644 §3.5.2.2), not a missing value.
      checkImmutable(org, current, next);
      const fields = validate(org, next);
      const now = new Date().toISOString();
      const columns = store.toColumns(fields);
      const wasActive = row.active === 1;
      if (columns.data === row.data) return { row, wasActive }; // nothing changed: keep version and lastModified
      let written: boolean;
      try {
        written = await store.updateUserIfVersion(this.db, org.id, id, row.version, columns, now);
      } catch (err) {
        if (isUniqueViolation(err)) throw duplicate(fields.userName);
        throw err;
      }
      if (written) return { row: { ...row, ...columns, version: row.version + 1, updated_at: now }, wasActive };
    }
    throw busy('user');
  }

  async delete(org: Organization, id: string, ifMatch?: string): Promise<store.UserRow> {
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const row = await this.get(org, id);
      checkIfMatch(ifMatch, row.version);
      // Deleting hides the user and ends its group memberships; the profile stays for support to purge.
      const done = await this.db.transaction().execute(async (trx) => {
        if (!(await store.softDeleteUser(trx, org.id, id, row.version, new Date().toISOString()))) return false;
        await removeUserEverywhere(trx, org.id, id);
        return true;
      });
      if (done) return row;
    }
    throw busy('user');
  }
}

/** If-Match (RFC 7644 §3.14, RFC 7232 §3.1): `*` or a list of ETags, weak comparison. */
export function checkIfMatch(header: string | undefined, version: number): void {
  if (header === undefined || header.trim() === '' || header.trim() === '*') return;
  const want = String(version);
  const tags = header.split(',').map((t) => t.trim().replace(/^W\//i, '').replace(/^"|"$/g, ''));
  if (!tags.includes(want)) {
    throw preconditionFailed('The resource has changed since it was read (If-Match does not match its current version).');
  }
}
