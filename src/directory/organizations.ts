/** Organizations (tenants): each has its own users, groups, tokens and settings. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, OrganizationTable } from '../store/db.js';

export type UsernameFormat = 'email' | 'any';

export interface Organization {
  id: string;
  name: string;
  provisioningEnabled: boolean;
  usernameFormat: UsernameFormat;
  createdAt: string;
}

export class NotFoundError extends Error {}
export class UsageError extends Error {}

function toOrganization(row: OrganizationTable): Organization {
  return {
    id: row.id,
    name: row.name,
    provisioningEnabled: row.provisioning_enabled === 1,
    usernameFormat: row.username_format === 'any' ? 'any' : 'email',
    createdAt: row.created_at,
  };
}

export function parseUsernameFormat(value: string): UsernameFormat {
  const lower = value.toLowerCase();
  if (lower === 'email' || lower === 'any') return lower;
  throw new UsageError(`username format must be "email" or "any", not "${value}"`);
}

export async function createOrganization(
  db: Kysely<Database>,
  input: { name: string; provisioningEnabled?: boolean; usernameFormat?: UsernameFormat },
): Promise<Organization> {
  const name = input.name.trim();
  if (name === '') throw new UsageError('an organization needs a name');
  const row: OrganizationTable = {
    id: randomUUID(),
    name,
    provisioning_enabled: input.provisioningEnabled ? 1 : 0,
    username_format: input.usernameFormat ?? 'email',
    created_at: new Date().toISOString(),
  };
  await db.insertInto('organizations').values(row).execute();
  return toOrganization(row);
}

export async function getOrganization(db: Kysely<Database>, id: string): Promise<Organization | undefined> {
  const row = await db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toOrganization(row) : undefined;
}

/** Finds an organization by id, or by name when exactly one has it. */
export async function resolveOrganization(db: Kysely<Database>, idOrName: string): Promise<Organization> {
  const byId = await getOrganization(db, idOrName);
  if (byId) return byId;
  const rows = await db.selectFrom('organizations').selectAll().where('name', '=', idOrName).execute();
  if (rows.length === 1) return toOrganization(rows[0]);
  if (rows.length > 1) throw new UsageError(`several organizations are named "${idOrName}"; use the id`);
  throw new NotFoundError(`no organization "${idOrName}"`);
}

export async function listOrganizations(db: Kysely<Database>): Promise<Organization[]> {
  const rows = await db.selectFrom('organizations').selectAll().orderBy('created_at').execute();
  return rows.map(toOrganization);
}

export async function setProvisioning(db: Kysely<Database>, orgId: string, enabled: boolean): Promise<void> {
  await db.updateTable('organizations').set({ provisioning_enabled: enabled ? 1 : 0 }).where('id', '=', orgId).execute();
}

export async function setUsernameFormat(db: Kysely<Database>, orgId: string, format: UsernameFormat): Promise<void> {
  await db.updateTable('organizations').set({ username_format: format }).where('id', '=', orgId).execute();
}
