/**
 * SCIM API tokens: 256-bit random secrets with a recognisable prefix, shown
 * once and stored only as a SHA-256 hash. A high-entropy secret needs no slow
 * hash; looking it up by its hash also means no secret is ever compared.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/db.js';

export const TOKEN_PREFIX = 'plmscim_';

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export interface IssuedToken {
  id: string;
  orgId: string;
  token: string;
  hint: string;
  createdAt: string;
}

export async function issueToken(db: Kysely<Database>, orgId: string): Promise<IssuedToken> {
  const token = generateToken();
  const row = {
    id: randomUUID(),
    org_id: orgId,
    hash: hashToken(token),
    // Enough of the secret for support to tell tokens apart, too little to use.
    hint: `${token.slice(0, TOKEN_PREFIX.length + 4)}…`,
    created_at: new Date().toISOString(),
    last_used_at: null,
    revoked_at: null,
  };
  await db.insertInto('api_tokens').values(row).execute();
  return { id: row.id, orgId, token, hint: row.hint, createdAt: row.created_at };
}

export interface TokenInfo {
  id: string;
  orgId: string;
  hint: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export async function listTokens(db: Kysely<Database>, orgId: string): Promise<TokenInfo[]> {
  const rows = await db.selectFrom('api_tokens').selectAll().where('org_id', '=', orgId).orderBy('created_at').execute();
  return rows.map((r) => ({
    id: r.id,
    orgId: r.org_id,
    hint: r.hint,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  }));
}

/** Revokes a token; returns false when no live token has that id. */
export async function revokeToken(db: Kysely<Database>, tokenId: string): Promise<boolean> {
  const result = await db
    .updateTable('api_tokens')
    .set({ revoked_at: new Date().toISOString() })
    .where('id', '=', tokenId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** The live token a secret belongs to, or undefined for an unknown or revoked one. */
export async function findLiveToken(
  db: Kysely<Database>,
  secret: string,
): Promise<{ id: string; orgId: string; lastUsedAt: string | null } | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .select(['id', 'org_id', 'last_used_at'])
    .where('hash', '=', hashToken(secret))
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row ? { id: row.id, orgId: row.org_id, lastUsedAt: row.last_used_at } : undefined;
}

/** Records that a token was used, at most once a minute, so support can tell which token an IdP uses. */
export async function touchToken(db: Kysely<Database>, token: { id: string; lastUsedAt: string | null }, now = new Date()): Promise<void> {
  if (token.lastUsedAt && now.getTime() - Date.parse(token.lastUsedAt) < 60_000) return;
  await db.updateTable('api_tokens').set({ last_used_at: now.toISOString() }).where('id', '=', token.id).execute();
}

/**
 * The secret in an Authorization header, in each form IdPs send it:
 * `Bearer <token>`, a bare token (Okta's "HTTP Header" option), or Basic
 * credentials carrying the token as the password (or as the user name when
 * the password is empty).
 */
export function secretFromAuthorization(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  const space = value.indexOf(' ');
  if (space === -1) return value;
  const scheme = value.slice(0, space).toLowerCase();
  const rest = value.slice(space + 1).trim();
  if (scheme === 'bearer' || scheme === 'token') return rest || undefined;
  if (scheme === 'basic') {
    const decoded = Buffer.from(rest, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon === -1) return decoded || undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    return password || user || undefined;
  }
  return undefined;
}
