/**
 * Groups (RFC 7643 §4.2) with membership kept in its own table: a one-member
 * change touches one row whatever the size of the group, and reading a group
 * without its members never reads them.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { badRequest, notFound } from '../scim/errors.js';
import { type Filter, FilterSyntaxError, parsePatchPath } from '../scim/filter.js';
import { type PatchOperation, applyPatch } from '../scim/patch.js';
import { type Json, type JsonObject, isObject, keyCI, normalizeResource } from '../scim/resource.js';
import { GROUP_SCHEMA, groupResourceType } from '../scim/schema.js';
import type { Database } from '../store/db.js';
import { type SqlDialect, sqliteDialect } from '../store/dialect.js';
import * as store from '../store/groups.js';
import type { ListQuery } from '../store/users.js';
import type { Organization } from './organizations.js';
import { isResourceId } from '../store/db.js';
import { type RenderContext, WRITE_ATTEMPTS, backoff, busy, checkIfMatch, checkIndexedLength, etagOf } from './users.js';

/** One change to a group's membership, in request order. */
type MemberChange =
  | { kind: 'add'; ids: string[] }
  | { kind: 'remove'; ids: string[] }
  | { kind: 'removeAll' }
  | { kind: 'replace'; ids: string[] };

export function renderGroup(row: store.GroupRow, ctx: RenderContext, members?: { id: string; display: string }[]): JsonObject {
  const data = JSON.parse(row.data) as JsonObject;
  const schemas: string[] = [GROUP_SCHEMA];
  for (const key of Object.keys(data)) if (key.toLowerCase().startsWith('urn:')) schemas.push(key);
  const { displayName, ...rest } = data;
  const out: JsonObject = { schemas, id: row.id, displayName, ...rest };
  if (members) {
    out.members = members.map((m) => ({ value: m.id, display: m.display, $ref: `${ctx.scimBase}/Users/${m.id}`, type: 'User' }));
  }
  out.meta = {
    resourceType: 'Group',
    created: row.created_at,
    lastModified: row.updated_at,
    location: `${ctx.scimBase}/Groups/${row.id}`,
    version: etagOf(row.version),
  };
  return out;
}

/** Member ids of a members value: a list (or one) of `{value: id}`; `display`, `$ref` and `type` are ignored. */
function memberIds(value: unknown, where: string): string[] {
  if (value === null || value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item, i) => {
    const id = isObject(item) ? item.value : typeof item === 'string' ? item : undefined;
    if (typeof id !== 'string' || id === '') {
      throw badRequest('invalidValue', `${where}: member ${i + 1} has no "value" (the user's id).`);
    }
    return id;
  });
}

/** The ids a remove filter on members names: `value eq "id"`, possibly or-ed together. */
function idsFromMemberFilter(filter: Filter): string[] | undefined {
  if (filter.kind === 'compare' && filter.op === 'eq' && filter.path.attr.toLowerCase() === 'value' && !filter.path.sub && typeof filter.value === 'string') {
    return [filter.value];
  }
  if (filter.kind === 'or') {
    const left = idsFromMemberFilter(filter.left);
    const right = idsFromMemberFilter(filter.right);
    return left && right ? [...left, ...right] : undefined;
  }
  return undefined;
}

/**
 * Splits a PATCH into membership changes and operations on the group's own
 * attributes. IdP shapes handled: Okta's add with a value list and remove by
 * `members[value eq "id"]`, Entra's remove with `path: members` and a value
 * list, replace with a list or `[]`, and path-less `{id, displayName}`.
 */
function splitGroupPatch(groupId: string, ops: PatchOperation[]): { members: MemberChange[]; doc: PatchOperation[] } {
  const members: MemberChange[] = [];
  const doc: PatchOperation[] = [];
  ops.forEach((op, index) => {
    const where = `Operation ${index + 1}`;
    if (op.path === undefined) {
      if (!isObject(op.value)) {
        doc.push(op);
        return;
      }
      const value: JsonObject = { ...op.value };
      const idKey = keyCI(value, 'id');
      if (idKey !== undefined) {
        if (value[idKey] !== groupId) throw badRequest('mutability', `${where}: a group's id cannot be changed.`);
        delete value[idKey];
      }
      const membersKey = keyCI(value, 'members');
      if (membersKey !== undefined) {
        const ids = memberIds(value[membersKey], where);
        members.push(op.op === 'add' ? { kind: 'add', ids } : { kind: 'replace', ids });
        delete value[membersKey];
      }
      if (Object.keys(value).length > 0) doc.push({ ...op, value });
      return;
    }
    let parsed;
    try {
      parsed = parsePatchPath(op.path);
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw badRequest('invalidPath', `${where}: invalid path "${op.path}": ${err.message}`);
      throw err;
    }
    const isCore = !parsed.path.uri || parsed.path.uri.toLowerCase() === GROUP_SCHEMA.toLowerCase();
    if (!isCore || parsed.path.attr.toLowerCase() !== 'members') {
      if (isCore && parsed.path.attr.toLowerCase() === 'id') {
        if (op.op === 'remove' || op.value !== groupId) throw badRequest('mutability', `${where}: a group's id cannot be changed.`);
        return;
      }
      doc.push(op);
      return;
    }
    if (parsed.path.sub || parsed.sub) throw badRequest('invalidPath', `${where}: change members as a whole, e.g. path "members" or "members[value eq \\"id\\"]".`);
    if (parsed.filter) {
      const ids = idsFromMemberFilter(parsed.filter);
      if (!ids) throw badRequest('invalidFilter', `${where}: a members filter must name ids, e.g. members[value eq "id"].`);
      if (op.op !== 'remove') throw badRequest('invalidPath', `${where}: use "add" with path "members" to add members.`);
      members.push({ kind: 'remove', ids });
      return;
    }
    if (op.op === 'add') members.push({ kind: 'add', ids: memberIds(op.value, where) });
    else if (op.op === 'replace') members.push({ kind: 'replace', ids: memberIds(op.value, where) });
    else if (op.value === undefined || op.value === null) members.push({ kind: 'removeAll' });
    else members.push({ kind: 'remove', ids: memberIds(op.value, where) });
  });
  return { members, doc };
}

function groupColumns(doc: JsonObject) {
  const displayName = doc.displayName;
  if (typeof displayName !== 'string' || displayName.trim() === '') throw badRequest('invalidValue', 'Attribute "displayName" is required.');
  checkIndexedLength('displayName', displayName);
  checkIndexedLength('externalId', typeof doc.externalId === 'string' ? doc.externalId : null);
  return {
    display_name: displayName,
    display_name_ci: displayName.normalize('NFC').toLowerCase(),
    external_id: typeof doc.externalId === 'string' ? doc.externalId : null,
    data: JSON.stringify(doc),
  };
}

/** Splits a normalized group body into its document and its member ids. */
function takeMembers(doc: JsonObject): string[] {
  const members = doc.members;
  delete doc.members;
  return memberIds(members as Json, 'members');
}

export class GroupService {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: SqlDialect = sqliteDialect,
  ) {}

  private async requireUsers(db: Kysely<Database>, orgId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const live = await store.liveUserIds(db, orgId, ids, this.dialect.name === 'postgres');
    const missing = [...new Set(ids)].filter((id) => !live.has(id));
    if (missing.length > 0) {
      const shown = missing.slice(0, 5).map((id) => `"${id}"`).join(', ');
      const more = missing.length > 5 ? ` and ${missing.length - 5} more` : '';
      throw badRequest('invalidValue', `Member ${shown}${more} is not a user of this organization; no change was made.`);
    }
  }

  async create(org: Organization, body: unknown): Promise<store.GroupRow> {
    const doc = normalizeResource(groupResourceType, body);
    const ids = takeMembers(doc);
    const columns = groupColumns(doc);
    const now = new Date().toISOString();
    const row: store.GroupRow = { id: randomUUID(), org_id: org.id, ...columns, version: 1, created_at: now, updated_at: now };
    await this.db.transaction().execute(async (trx) => {
      await this.requireUsers(trx, org.id, ids);
      await store.insertGroup(trx, row);
      await store.addMembers(trx, org.id, row.id, ids, now);
    });
    return row;
  }

  async get(org: Organization, id: string): Promise<store.GroupRow> {
    const row = isResourceId(id) ? await store.findGroup(this.db, org.id, id) : undefined;
    if (!row) throw notFound(`Group "${id}" not found.`);
    return row;
  }

  members(groupId: string) {
    return store.listMembers(this.db, groupId, this.dialect);
  }

  list(org: Organization, q: ListQuery) {
    return store.listGroups(this.db, org.id, q, this.dialect);
  }

  async replace(org: Organization, id: string, body: unknown, ifMatch?: string): Promise<store.GroupRow> {
    const doc = normalizeResource(groupResourceType, body);
    const ids = takeMembers(doc);
    return this.change(org, id, ifMatch, () => doc, [{ kind: 'replace', ids }]);
  }

  async patch(org: Organization, id: string, ops: PatchOperation[], ifMatch?: string): Promise<store.GroupRow> {
    const split = splitGroupPatch(id, ops);
    const transform =
      split.doc.length > 0
        ? (current: JsonObject) => {
            const next = applyPatch(groupResourceType, current, split.doc);
            // RFC 7644 §3.5.2.2: leaving a required attribute unassigned is a mutability error.
            if (typeof next.displayName !== 'string' || next.displayName.trim() === '') {
              throw badRequest('mutability', 'Attribute "displayName" is required and cannot be removed.');
            }
            return next;
          }
        : undefined;
    return this.change(org, id, ifMatch, transform, split.members);
  }

  /**
   * Applies a document change and membership changes in one transaction.
   * Membership changes are set operations (insert-if-absent, delete), so
   * concurrent PATCHes from several instances all take effect.
   */
  private async change(
    org: Organization,
    id: string,
    ifMatch: string | undefined,
    transform: ((current: JsonObject) => JsonObject) | undefined,
    changes: MemberChange[],
  ): Promise<store.GroupRow> {
    const added = changes.flatMap((c) => (c.kind === 'add' || c.kind === 'replace' ? c.ids : []));
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
      if (attempt > 0) await backoff(attempt);
      const row = await this.get(org, id);
      checkIfMatch(ifMatch, row.version);
      let columns: ReturnType<typeof groupColumns> | undefined;
      if (transform) {
        const next = transform(structuredClone(JSON.parse(row.data) as JsonObject));
        delete next.members;
        columns = groupColumns(next);
        if (columns.data === row.data) columns = undefined;
      }
      if (!columns && changes.length === 0) return row;
      const now = new Date().toISOString();
      const written = await this.db.transaction().execute(async (trx) => {
        await this.requireUsers(trx, org.id, added);
        if (columns) {
          if (!(await store.updateGroupIfVersion(trx, org.id, id, row.version, columns, now))) return false;
        } else if (!(await store.touchGroup(trx, org.id, id, now, ifMatch ? row.version : undefined))) {
          return false;
        }
        for (const c of changes) {
          if (c.kind === 'add') await store.addMembers(trx, org.id, id, c.ids, now);
          else if (c.kind === 'remove') await store.removeMembers(trx, id, c.ids);
          else if (c.kind === 'removeAll') await store.removeAllMembers(trx, id);
          else {
            await store.removeAllMembers(trx, id);
            await store.addMembers(trx, org.id, id, c.ids, now);
          }
        }
        return true;
      });
      if (written) return (await store.findGroup(this.db, org.id, id)) as store.GroupRow;
    }
    throw busy('group');
  }

  async delete(org: Organization, id: string, ifMatch?: string): Promise<void> {
    const row = await this.get(org, id);
    checkIfMatch(ifMatch, row.version);
    await this.db.transaction().execute(async (trx) => {
      await store.deleteGroup(trx, org.id, id);
    });
  }
}
