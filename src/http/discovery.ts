/**
 * Discovery endpoints (RFC 7644 §4, RFC 7643 §5–7): what the service supports,
 * stated truthfully so clients neither miss features nor try absent ones.
 */
import { notFound } from '../scim/errors.js';
import { MAX_RESULTS } from '../scim/query.js';
import { type JsonObject } from '../scim/resource.js';
import { LIST_SCHEMA, type ResourceTypeDef, type SchemaDef, allSchemas, groupResourceType, userResourceType } from '../scim/schema.js';

/** Resource types this build serves. */
export const SERVED_RESOURCE_TYPES: ResourceTypeDef[] = [userResourceType, groupResourceType];

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RT_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

function servedSchemas(): SchemaDef[] {
  const ids = new Set(SERVED_RESOURCE_TYPES.flatMap((rt) => [rt.schema.id, ...rt.extensions.map((e) => e.id)]));
  return allSchemas.filter((s) => ids.has(s.id));
}

export function serviceProviderConfig(base: string): JsonObject {
  return {
    schemas: [SPC_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'A Plumm SCIM API token sent as "Authorization: Bearer <token>".',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

function resourceType(base: string, rt: ResourceTypeDef): JsonObject {
  return {
    schemas: [RT_SCHEMA],
    id: rt.name,
    name: rt.name,
    endpoint: rt.endpoint,
    description: rt.name === 'User' ? 'User Account' : 'Group',
    schema: rt.schema.id,
    schemaExtensions: rt.extensions.map((e) => ({ schema: e.id, required: false })),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${rt.name}` },
  };
}

function schema(base: string, s: SchemaDef): JsonObject {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: s.attributes as unknown as JsonObject[],
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` },
  };
}

function list(resources: JsonObject[]): JsonObject {
  return { schemas: [LIST_SCHEMA], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}

export function resourceTypesResponse(base: string): JsonObject {
  return list(SERVED_RESOURCE_TYPES.map((rt) => resourceType(base, rt)));
}

export function singleResourceType(base: string, name: string): JsonObject {
  const rt = SERVED_RESOURCE_TYPES.find((r) => r.name.toLowerCase() === name.toLowerCase());
  if (!rt) throw notFound(`Resource type "${name}" not found.`);
  return resourceType(base, rt);
}

export function schemasResponse(base: string): JsonObject {
  return list(servedSchemas().map((s) => schema(base, s)));
}

export function singleSchema(base: string, id: string): JsonObject {
  const s = servedSchemas().find((x) => x.id.toLowerCase() === id.toLowerCase());
  if (!s) throw notFound(`Schema "${id}" not found.`);
  return schema(base, s);
}
