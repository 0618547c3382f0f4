/** Purge: the customer-success action that permanently deletes a user's data. */
import type { Kysely } from 'kysely';
import type { Database } from '../store/db.js';
import * as store from '../store/users.js';
import { removeUserEverywhere } from '../store/groups.js';
import { NotFoundError, UsageError } from './organizations.js';

export interface PurgeResult {
  orgId: string;
  userId: string;
  userName: string;
  wasActive: boolean;
  wasDeleted: boolean;
  removed: string[];
}

/**
 * Deletes a user and everything held about them. An active user is refused
 * unless forced: purging is deliberate, never a side effect of provisioning.
 */
export async function purgeUser(db: Kysely<Database>, orgId: string, userId: string, opts: { force: boolean }): Promise<PurgeResult> {
  const row = await store.findAnyUser(db, orgId, userId);
  if (!row) throw new NotFoundError(`no user "${userId}" in this organization`);
  const isActive = row.active === 1 && row.deleted_at === null;
  if (isActive && !opts.force) {
    throw new UsageError(`user ${userId} (${row.user_name}) is active; deactivate it through the IdP first, or pass --force`);
  }
  const removed = ['profile'];
  await db.transaction().execute(async (trx) => {
    const groups = await removeUserEverywhere(trx, orgId, userId);
    if (groups.length > 0) removed.push(`${groups.length} group membership${groups.length === 1 ? '' : 's'}`);
    await store.purgeUser(trx, orgId, userId);
  });
  return { orgId, userId, userName: row.user_name, wasActive: isActive, wasDeleted: row.deleted_at !== null, removed };
}
