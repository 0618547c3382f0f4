/**
 * SCIM 2.0 endpoints under /scim/v2 (RFC 7644): discovery, Users, and the
 * authentication that picks the organization from the token.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findLiveToken, secretFromAuthorization } from '../auth/tokens.js';
import type { Config } from '../config.js';
import { type Organization, getOrganization } from '../directory/organizations.js';
import { type RenderContext, UserService, etagOf, renderUser } from '../directory/users.js';
import { ScimError, badRequest } from '../scim/errors.js';
import { parsePatchRequest } from '../scim/patch.js';
import { type ListParams, parseListParams, parseProjection, project } from '../scim/query.js';
import { type JsonObject, isObject } from '../scim/resource.js';
import { LIST_SCHEMA, SEARCH_SCHEMA, userResourceType } from '../scim/schema.js';
import type { Store } from '../store/db.js';
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
  const users = new UserService(store.db);

  /** Every resource endpoint needs a live token of an organization with provisioning on. */
  async function authenticate(req: FastifyRequest): Promise<void> {
    const secret = secretFromAuthorization(req.headers.authorization);
    if (!secret) throw new ScimError(401, 'Authentication required: send the Plumm SCIM API token in the Authorization header as "Bearer <token>".');
    const token = await findLiveToken(store.db, secret);
    // Unknown and revoked tokens get the same answer.
    if (!token) throw new ScimError(401, 'The API token is not valid. It may have been revoked: ask Plumm support for a new one.');
    const org = await getOrganization(store.db, token.orgId);
    if (!org) throw new ScimError(401, 'The API token is not valid. It may have been revoked: ask Plumm support for a new one.');
    req.org = org;
    req.tokenId = token.id;
    req.log = req.log.child({ orgId: org.id });
    if (!org.provisioningEnabled) {
      throw new ScimError(403, 'Provisioning is not enabled for this organization. Contact Plumm support to enable it.');
    }
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
    scoped.addHook('preHandler', async (req) => authenticate(req));

    async function listUsers(req: FastifyRequest, reply: FastifyReply, params: ListParams) {
      const { total, rows } = await users.list(org(req), params);
      const rendered = rows.map((row) => project(userResourceType, renderUser(row, ctx(req)), params.attributes, params.excludedAttributes));
      return send(reply, 200, listResponse(params, total, rendered));
    }

    function sendUser(req: FastifyRequest, reply: FastifyReply, status: number, row: Awaited<ReturnType<UserService['get']>>) {
      const { attributes, excludedAttributes } = parseProjection(queryObject(req));
      const body = project(userResourceType, renderUser(row, ctx(req)), attributes, excludedAttributes);
      reply.header('etag', etagOf(row.version));
      if (status === 201) reply.header('location', `${ctx(req).scimBase}/Users/${row.id}`);
      return send(reply, status, body);
    }

    scoped.get('/Users', async (req, reply) => listUsers(req, reply, parseListParams(queryObject(req))));

    scoped.post('/Users/.search', async (req, reply) => {
      const body = req.body;
      if (!isObject(body)) throw badRequest('invalidSyntax', 'A search request body must be a JSON object.');
      if (Array.isArray(body.schemas) && !body.schemas.includes(SEARCH_SCHEMA)) {
        throw badRequest('invalidSyntax', `A search request must carry the schema "${SEARCH_SCHEMA}".`);
      }
      return listUsers(req, reply, parseListParams(body));
    });

    scoped.post('/Users', async (req, reply) => sendUser(req, reply, 201, await users.create(org(req), req.body)));

    scoped.get<{ Params: { id: string } }>('/Users/:id', async (req, reply) => {
      const row = await users.get(org(req), req.params.id);
      const etag = etagOf(row.version);
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string' && inm.split(',').map((t) => t.trim()).includes(etag)) {
        reply.header('etag', etag);
        return reply.code(304).send();
      }
      return sendUser(req, reply, 200, row);
    });

    scoped.put<{ Params: { id: string } }>('/Users/:id', async (req, reply) =>
      sendUser(req, reply, 200, await users.replace(org(req), req.params.id, req.body, ifMatch(req))),
    );

    scoped.patch<{ Params: { id: string } }>('/Users/:id', async (req, reply) => {
      const ops = parsePatchRequest(req.body);
      return sendUser(req, reply, 200, await users.patch(org(req), req.params.id, ops, ifMatch(req)));
    });

    scoped.delete<{ Params: { id: string } }>('/Users/:id', async (req, reply) => {
      await users.delete(org(req), req.params.id, ifMatch(req));
      return reply.code(204).send();
    });

    // Groups are not served by this version: say so in SCIM terms.
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
  });
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
