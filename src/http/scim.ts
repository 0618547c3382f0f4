/**
 * SCIM 2.0 endpoints under /scim/v2 (RFC 7644): discovery, Users, and the
 * authentication that picks the organization from the token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import rateLimit from '@fastify/rate-limit';
import { AuthFailureThrottle } from '../auth/throttle.js';
import { findLiveToken, hashToken, secretFromAuthorization, touchToken } from '../auth/tokens.js';
import type { Config } from '../config.js';
import { type Organization, getOrganization } from '../directory/organizations.js';
import { GroupService, renderGroup } from '../directory/groups.js';
import { type RenderContext, UserService, etagOf, renderUser } from '../directory/users.js';
import { groupsOfUsers } from '../store/groups.js';
import type { UserRow } from '../store/users.js';
import type { GroupRow } from '../store/groups.js';
import { ScimError, badRequest } from '../scim/errors.js';
import { parsePatchRequest } from '../scim/patch.js';
import { type ListParams, isExcluded, parseListParams, parseProjection, project } from '../scim/query.js';
import { type JsonObject, isObject } from '../scim/resource.js';
import { LIST_SCHEMA, SEARCH_SCHEMA, groupResourceType, userResourceType } from '../scim/schema.js';
import type { Store } from '../store/db.js';
import type { EventRecorder } from '../events/log.js';
import { recordRequest, userWriteAction } from './provisioning-log.js';
import { resourceTypesResponse, schemasResponse, serviceProviderConfig, singleResourceType, singleSchema } from './discovery.js';

const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

declare module 'fastify' {
  interface FastifyRequest {
    org?: Organization;
    tokenId?: string;
  }
}

export interface ScimRouteOptions {
  store: Store;
  config: Config;
  recorder?: EventRecorder;
}

function scimBase(req: FastifyRequest, config: Config): string {
  if (config.publicUrl) return `${config.publicUrl}/scim/v2`;
  return `${req.protocol}://${req.host}/scim/v2`;
}

function send(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(SCIM_CONTENT_TYPE).send(body);
}

function ifMatch(req: FastifyRequest): string | undefined {
  const h = req.headers['if-match'];
  return Array.isArray(h) ? h.join(',') : h;
}

function queryObject(req: FastifyRequest): Record<string, unknown> {
  return (req.query ?? {}) as Record<string, unknown>;
}

function listResponse(params: ListParams, total: number, resources: JsonObject[]): JsonObject {
  return {
    schemas: [LIST_SCHEMA],
    totalResults: total,
    startIndex: params.startIndex,
    itemsPerPage: resources.length,
    Resources: resources,
  };
}

export async function scimRoutes(app: FastifyInstance, opts: ScimRouteOptions): Promise<void> {
  const { store, config } = opts;
  const authFailures = new AuthFailureThrottle({ freeFailures: config.authFailuresFreePerMinute });
  const users = new UserService(store.db, store.sql);
  const groups = new GroupService(store.db, store.sql);

  /**
   * Finds the organization a request's token belongs to, before the body is
   * read, so that even a request with a malformed body is logged against its
   * organization. Nothing is refused here: see requireAuth.
   */
  async function identify(req: FastifyRequest): Promise<void> {
    const secret = secretFromAuthorization(req.headers.authorization);
    if (!secret) return;
    const token = await findLiveToken(store.db, secret);
    const org = token ? await getOrganization(store.db, token.orgId) : undefined;
    if (!token || !org) return;
    req.org = org;
    req.tokenId = token.id;
    req.log = req.log.child({ orgId: org.id });
    await touchToken(store.db, token);
  }

  /** Every resource endpoint needs a live token of an organization with provisioning on. */
  async function requireAuth(req: FastifyRequest): Promise<void> {
    if (!req.org) {
      if (!secretFromAuthorization(req.headers.authorization)) {
        throw new ScimError(401, 'Authentication required: send the Plumm SCIM API token in the Authorization header as "Bearer <token>".');
      }
      // Unknown and revoked tokens get the same answer, later and later when
      // one address keeps guessing.
      const wait = authFailures.delayFor(req.ip);
      authFailures.recordFailure(req.ip);
      if (wait > 0) await sleep(wait);
      throw new ScimError(401, 'The API token is not valid. It may have been revoked: ask Plumm support for a new one.');
    }
    if (!req.org.provisioningEnabled) {
      throw new ScimError(403, 'Provisioning is not enabled for this organization. Contact Plumm support to enable it.');
    }
  }

  app.addHook('onRequest', async (req) => identify(req));
  if (opts.recorder) {
    const recorder = opts.recorder;
    // Every request that carries a credential is recorded, wrong ones included;
    // discovery without one is not an organization's request.
    app.addHook('onResponse', async (req, reply) => {
      if (req.org || req.headers.authorization !== undefined || !isDiscovery(req.url)) recordRequest(recorder, req, reply);
    });
  }

  const ctx = (req: FastifyRequest): RenderContext => ({ scimBase: scimBase(req, config) });
  const org = (req: FastifyRequest): Organization => req.org as Organization;

  // Discovery (RFC 7644 §4) answers without a token so clients can learn the service before configuring it.
  app.get('/ServiceProviderConfig', async (req, reply) => send(reply, 200, serviceProviderConfig(scimBase(req, config))));
  app.get('/ResourceTypes', async (req, reply) => send(reply, 200, resourceTypesResponse(scimBase(req, config))));
  app.get<{ Params: { name: string } }>('/ResourceTypes/:name', async (req, reply) => send(reply, 200, singleResourceType(scimBase(req, config), req.params.name)));
  app.get('/Schemas', async (req, reply) => send(reply, 200, schemasResponse(scimBase(req, config))));
  app.get<{ Params: { id: string } }>('/Schemas/:id', async (req, reply) => send(reply, 200, singleSchema(scimBase(req, config), req.params.id)));

  await app.register(async (scoped) => {
    // Per token: the key is a hash of the credential, never the credential itself.
    await scoped.register(rateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (req) => {
        const secret = secretFromAuthorization(req.headers.authorization);
        return secret ? `token:${hashToken(secret)}` : `ip:${req.ip}`;
      },
      errorResponseBuilder: (_req, context) =>
        new ScimError(429, `Too many requests: at most ${context.max} a minute per token. Retry after ${Math.ceil(context.ttl / 1000)} seconds.`),
    });
    // Authentication runs after the rate limiter (a route-level onRequest hook
    // too), so wrong-token bursts are counted and limited like any others.
    scoped.addHook('onRoute', (route) => {
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...existing, async (req: FastifyRequest) => requireAuth(req)];
    });

    type Projection = Pick<ListParams, 'attributes' | 'excludedAttributes'>;

    /** Users with their read-only `groups`, read in one query for a whole page. */
    async function renderUsers(req: FastifyRequest, rows: UserRow[], p: Projection): Promise<JsonObject[]> {
      const withGroups = !isExcluded('groups', p.attributes, p.excludedAttributes);
      const memberships = withGroups ? await groupsOfUsers(store.db, rows.map((r) => r.id)) : undefined;
      return rows.map((row) => {
        const extra = memberships?.get(row.id)?.length
          ? { groups: memberships.get(row.id)!.map((g) => ({ value: g.id, display: g.display, $ref: `${ctx(req).scimBase}/Groups/${g.id}`, type: 'direct' })) }
          : undefined;
        return project(userResourceType, renderUser(row, ctx(req), extra), p.attributes, p.excludedAttributes);
      });
    }

    /** A group, reading its members only when the projection keeps them. */
    async function renderGroups(req: FastifyRequest, rows: GroupRow[], p: Projection): Promise<JsonObject[]> {
      const withMembers = !isExcluded('members', p.attributes, p.excludedAttributes);
      const out: JsonObject[] = [];
      for (const row of rows) {
        const members = withMembers ? await groups.members(row.id) : undefined;
        out.push(project(groupResourceType, renderGroup(row, ctx(req), members), p.attributes, p.excludedAttributes));
      }
      return out;
    }

    async function listUsers(req: FastifyRequest, reply: FastifyReply, params: ListParams) {
      const { total, rows } = await users.list(org(req), params);
      return send(reply, 200, listResponse(params, total, await renderUsers(req, rows, params)));
    }

    async function listGroups(req: FastifyRequest, reply: FastifyReply, params: ListParams) {
      const { total, rows } = await groups.list(org(req), params);
      return send(reply, 200, listResponse(params, total, await renderGroups(req, rows, params)));
    }

    async function sendOne(req: FastifyRequest, reply: FastifyReply, status: number, kind: 'Users' | 'Groups', row: UserRow | GroupRow) {
      const p = parseProjection(queryObject(req));
      const [body] = kind === 'Users' ? await renderUsers(req, [row as UserRow], p) : await renderGroups(req, [row as GroupRow], p);
      req.logTarget = kind === 'Users'
        ? { type: 'User', id: row.id, name: (row as UserRow).user_name }
        : { type: 'Group', id: row.id, name: (row as GroupRow).display_name };
      reply.header('etag', etagOf(row.version));
      if (status === 201) reply.header('location', `${ctx(req).scimBase}/${kind}/${row.id}`);
      return send(reply, status, body);
    }

    function searchParams(body: unknown): ListParams {
      if (!isObject(body)) throw badRequest('invalidSyntax', 'A search request body must be a JSON object.');
      if (Array.isArray(body.schemas) && !body.schemas.includes(SEARCH_SCHEMA)) {
        throw badRequest('invalidSyntax', `A search request must carry the schema "${SEARCH_SCHEMA}".`);
      }
      return parseListParams(body);
    }

    function notModified(req: FastifyRequest, reply: FastifyReply, version: number): boolean {
      const etag = etagOf(version);
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string' && inm.split(',').map((t) => t.trim()).includes(etag)) {
        reply.header('etag', etag).code(304).send();
        return true;
      }
      return false;
    }

    scoped.get('/Users', async (req, reply) => listUsers(req, reply, parseListParams(queryObject(req))));
    scoped.post('/Users/.search', async (req, reply) => listUsers(req, reply, searchParams(req.body)));
    scoped.post('/Users', async (req, reply) => sendOne(req, reply, 201, 'Users', await users.create(org(req), req.body)));
    scoped.get<{ Params: { id: string } }>('/Users/:id', async (req, reply) => {
      const row = await users.get(org(req), req.params.id);
      if (notModified(req, reply, row.version)) return reply;
      return sendOne(req, reply, 200, 'Users', row);
    });
    scoped.put<{ Params: { id: string } }>('/Users/:id', async (req, reply) => {
      const { row, wasActive } = await users.replace(org(req), req.params.id, req.body, ifMatch(req));
      req.logAction = userWriteAction(req, wasActive, row.active === 1);
      return sendOne(req, reply, 200, 'Users', row);
    });
    scoped.patch<{ Params: { id: string } }>('/Users/:id', async (req, reply) => {
      const ops = parsePatchRequest(req.body);
      const { row, wasActive } = await users.patch(org(req), req.params.id, ops, ifMatch(req));
      req.logAction = userWriteAction(req, wasActive, row.active === 1);
      return sendOne(req, reply, 200, 'Users', row);
    });
    scoped.delete<{ Params: { id: string } }>('/Users/:id', async (req, reply) => {
      const deleted = await users.delete(org(req), req.params.id, ifMatch(req));
      req.logTarget = { type: 'User', id: deleted.id, name: deleted.user_name };
      return reply.code(204).send();
    });

    // RFC 7644 §3.7 and §3.11: unsupported features answer 501, as /ServiceProviderConfig says.
    scoped.all('/Bulk', async () => {
      throw new ScimError(501, 'Bulk operations are not supported; send each request on its own.');
    });
    scoped.all('/Me', async () => {
      throw new ScimError(501, 'The /Me endpoint is not supported: API tokens act for an organization, not a user.');
    });

    scoped.get('/Groups', async (req, reply) => listGroups(req, reply, parseListParams(queryObject(req))));
    scoped.post('/Groups/.search', async (req, reply) => listGroups(req, reply, searchParams(req.body)));
    scoped.post('/Groups', async (req, reply) => sendOne(req, reply, 201, 'Groups', await groups.create(org(req), req.body)));
    scoped.get<{ Params: { id: string } }>('/Groups/:id', async (req, reply) => {
      const row = await groups.get(org(req), req.params.id);
      if (notModified(req, reply, row.version)) return reply;
      return sendOne(req, reply, 200, 'Groups', row);
    });
    scoped.put<{ Params: { id: string } }>('/Groups/:id', async (req, reply) =>
      sendOne(req, reply, 200, 'Groups', await groups.replace(org(req), req.params.id, req.body, ifMatch(req))),
    );
    scoped.patch<{ Params: { id: string } }>('/Groups/:id', async (req, reply) => {
      const ops = parsePatchRequest(req.body);
      const row = await groups.patch(org(req), req.params.id, ops, ifMatch(req));
      // A membership change must not cost a read of every member: unless the
      // client asks for attributes, answer 204 (RFC 7644 §3.5.2 allows it;
      // Okta and Entra accept it for groups).
      const q = queryObject(req);
      if (q.attributes === undefined && q.excludedAttributes === undefined) {
        req.logTarget = { type: 'Group', id: row.id, name: row.display_name };
        reply.header('etag', etagOf(row.version));
        return reply.code(204).send();
      }
      return sendOne(req, reply, 200, 'Groups', row);
    });
    scoped.delete<{ Params: { id: string } }>('/Groups/:id', async (req, reply) => {
      await groups.delete(org(req), req.params.id, ifMatch(req));
      return reply.code(204).send();
    });
  });

  // Anything else under /scim/v2 is an unknown endpoint, answered (and logged) here.
  app.all('/*', async (req) => {
    throw new ScimError(404, `No endpoint at ${req.method} ${req.url.split('?')[0]}.`);
  });

  registerMethodNotAllowed(app, {
    '/ServiceProviderConfig': ['GET'],
    '/ResourceTypes': ['GET'],
    '/ResourceTypes/:name': ['GET'],
    '/Schemas': ['GET'],
    '/Schemas/:id': ['GET'],
    '/Users': ['GET', 'POST'],
    '/Users/.search': ['POST'],
    '/Users/:id': ['GET', 'PUT', 'PATCH', 'DELETE'],
    '/Groups': ['GET', 'POST'],
    '/Groups/.search': ['POST'],
    '/Groups/:id': ['GET', 'PUT', 'PATCH', 'DELETE'],
  });
}

function isDiscovery(url: string): boolean {
  return /\/scim\/v2\/(ServiceProviderConfig|ResourceTypes|Schemas)(\/|\?|$)/i.test(url);
}

const ALL_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'] as const;

/** Answers 405 with an Allow header for methods a known endpoint does not take. */
function registerMethodNotAllowed(app: FastifyInstance, routes: Record<string, string[]>): void {
  for (const [url, allowed] of Object.entries(routes)) {
    const others = ALL_METHODS.filter((m) => !allowed.includes(m) && !(m === 'HEAD' && allowed.includes('GET')));
    app.route({
      method: others as unknown as string[],
      url,
      handler: async (req, reply) => {
        reply.header('allow', allowed.join(', '));
        throw new ScimError(405, `${req.method} is not supported on this endpoint; use ${allowed.join(', ')}.`);
      },
    });
  }
}
