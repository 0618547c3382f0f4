/**
 * Operator credentials for the admin API: tokens issued by the CLI to Plumm
 * support staff, shown once and stored as a hash like SCIM tokens.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/db.js';
import { hashToken as hash } from './tokens.js';

export const OPERATOR_TOKEN_PREFIX = 'plmop_';


export interface Operator {
  id: string;
  name: string;
}

export async function issueOperatorToken(db: Kysely<Database>, name: string): Promise<Operator & { token: string }> {
  const token = OPERATOR_TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const id = randomUUID();
  await db
    .insertInto('operator_tokens')
    .values({ id, name, hash: hash(token), hint: `${token.slice(0, OPERATOR_TOKEN_PREFIX.length + 4)}…`, created_at: new Date().toISOString(), revoked_at: null })
    .execute();
  return { id, name, token };
}

export async function listOperatorTokens(db: Kysely<Database>) {
  return db.selectFrom('operator_tokens').select(['id', 'name', 'hint', 'created_at', 'revoked_at']).orderBy('created_at').execute();
}

export async function revokeOperatorToken(db: Kysely<Database>, id: string): Promise<boolean> {
  const r = await db.updateTable('operator_tokens').set({ revoked_at: new Date().toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function findOperator(db: Kysely<Database>, secret: string): Promise<Operator | undefined> {
  const row = await db.selectFrom('operator_tokens').select(['id', 'name']).where('hash', '=', hash(secret)).where('revoked_at', 'is', null).executeTakeFirst();
  return row ?? undefined;
}
