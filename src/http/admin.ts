/**
 * The admin API under /admin/api for Plumm support: organizations and the
 * provisioning log (search, counts over time, CSV export). Every route needs
 * an operator credential; a web console signs in to the same API.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Operator, findOperator } from '../auth/operators.js';
import { secretFromAuthorization } from '../auth/tokens.js';
import { getOrganization, listOrganizations } from '../directory/organizations.js';
import { type Bucket, type EventQuery, type Outcome, countEvents, csvChunks, searchEvents } from '../events/log.js';
import { ScimError } from '../scim/errors.js';
import type { Store } from '../store/db.js';

declare module 'fastify' {
  interface FastifyRequest {
    operator?: Operator;
  }
}

function isoParam(value: unknown, name: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new ScimError(400, `"${name}" must be an ISO 8601 date-time, such as 2026-01-31T00:00:00Z.`, 'invalidValue');
  return new Date(ms).toISOString();
}

function intParam(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ScimError(400, `"${name}" must be a whole number.`, 'invalidValue');
  return n;
}

/** Reads the search parameters shared by search, counts and export. */
export function eventQuery(orgId: string, q: Record<string, unknown>): EventQuery {
  const outcome = typeof q.outcome === 'string' && q.outcome !== '' ? q.outcome.toUpperCase() : undefined;
  if (outcome !== undefined && outcome !== 'SUCCESS' && outcome !== 'FAILURE') {
    throw new ScimError(400, '"outcome" must be success or failure.', 'invalidValue');
  }
  const from = isoParam(q.from, 'from');
  const to = isoParam(q.to, 'to');
  if (from && to && from > to) throw new ScimError(400, '"from" is later than "to".', 'invalidValue');
  const limit = intParam(q.limit, 'limit', 100);
  if (limit < 1 || limit > 1000) throw new ScimError(400, '"limit" must be between 1 and 1000.', 'invalidValue');
  return {
    orgId,
    query: typeof q.query === 'string' ? q.query.slice(0, 200) : undefined,
    from,
    to,
    outcome: outcome as Outcome | undefined,
    action: typeof q.action === 'string' && q.action !== '' ? q.action : undefined,
    limit,
    offset: intParam(q.offset, 'offset', 0),
  };
}

export async function adminRoutes(app: FastifyInstance, opts: { store: Store }): Promise<void> {
  const { db } = opts.store;

  app.addHook('onRequest', async (req) => {
    const secret = secretFromAuthorization(req.headers.authorization);
    const operator = secret ? await findOperator(db, secret) : undefined;
    if (!operator) throw new ScimError(401, 'An operator credential is required: send "Authorization: Bearer <operator token>".');
    req.operator = operator;
  });

  async function orgOf(req: FastifyRequest<{ Params: { orgId: string } }>) {
    const org = await getOrganization(db, req.params.orgId);
    if (!org) throw new ScimError(404, `Organization "${req.params.orgId}" not found.`);
    return org;
  }

  app.get('/organizations', async () => ({ organizations: await listOrganizations(db) }));

  app.get<{ Params: { orgId: string } }>('/organizations/:orgId', async (req) => orgOf(req));

  app.get<{ Params: { orgId: string }; Querystring: Record<string, unknown> }>('/organizations/:orgId/events', async (req) => {
    const org = await orgOf(req);
    const q = eventQuery(org.id, req.query);
    const { total, events } = await searchEvents(db, q);
    return { total, offset: q.offset, limit: q.limit, events };
  });

  app.get<{ Params: { orgId: string }; Querystring: Record<string, unknown> }>('/organizations/:orgId/events/counts', async (req) => {
    const org = await orgOf(req);
    const bucket = (typeof req.query.bucket === 'string' ? req.query.bucket : 'hour') as Bucket;
    if (!['minute', 'hour', 'day'].includes(bucket)) throw new ScimError(400, '"bucket" must be minute, hour or day.', 'invalidValue');
    return { bucket, counts: await countEvents(db, { ...eventQuery(org.id, req.query), bucket }) };
  });

  app.get<{ Params: { orgId: string }; Querystring: Record<string, unknown> }>('/organizations/:orgId/events.csv', async (req, reply) => {
    const org = await orgOf(req);
    const q = eventQuery(org.id, req.query);
    reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="provisioning-log-${org.id}.csv"`);
    return reply.send(Readable.from(csvChunks(db, q)));
  });
}
