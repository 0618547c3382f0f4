/**
 * Resource schemas served at /Schemas and used to canonicalise attribute names,
 * coerce values and decide case sensitivity (RFC 7643 §4, §7, §8.7.1).
 */

export type AttributeType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  canonicalValues?: string[];
  referenceTypes?: string[];
  subAttributes?: AttributeDef[];
}

export interface SchemaDef {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDef[];
}

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

type Opts = Partial<Omit<AttributeDef, 'name' | 'type' | 'description'>> & { description?: string };

function attr(name: string, type: AttributeType, opts: Opts = {}): AttributeDef {
  return {
    name,
    type,
    multiValued: opts.multiValued ?? false,
    description: opts.description ?? '',
    required: opts.required ?? false,
    caseExact: opts.caseExact ?? false,
    mutability: opts.mutability ?? 'readWrite',
    returned: opts.returned ?? 'default',
    uniqueness: opts.uniqueness ?? 'none',
    ...(opts.canonicalValues ? { canonicalValues: opts.canonicalValues } : {}),
    ...(opts.referenceTypes ? { referenceTypes: opts.referenceTypes } : {}),
    ...(opts.subAttributes ? { subAttributes: opts.subAttributes } : {}),
  };
}

const str = (name: string, description: string, opts: Opts = {}) => attr(name, 'string', { description, ...opts });

/** The sub-attributes shared by emails, phoneNumbers, ims, photos and the like (RFC 7643 §2.4). */
function multiValuedStrings(name: string, description: string, types: string[], valueType: AttributeType = 'string'): AttributeDef {
  return attr(name, 'complex', {
    description,
    multiValued: true,
    subAttributes: [
      attr('value', valueType, { description: `The ${name} value.`, ...(valueType === 'reference' ? { referenceTypes: ['external'] } : {}) }),
      str('display', 'A human-readable name, primarily used for display purposes.'),
      str('type', 'A label indicating the function of the value.', { canonicalValues: types }),
      attr('primary', 'boolean', { description: 'Whether this is the primary value of the attribute.' }),
    ],
  });
}

const readOnlyMember = (refTypes: string[]) => [
  str('value', 'The identifier of the member.', { mutability: 'readOnly' }),
  attr('$ref', 'reference', { description: 'The URI of the member.', mutability: 'readOnly', referenceTypes: refTypes }),
  str('display', 'A human-readable name of the member.', { mutability: 'readOnly' }),
  str('type', 'How the membership was derived.', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
];

export const userSchema: SchemaDef = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', 'Unique identifier for the user, used to sign in. Unique per organization without regard to case. Cannot be changed.', {
      required: true,
      uniqueness: 'server',
      mutability: 'immutable',
    }),
    attr('name', 'complex', {
      description: "The components of the user's real name.",
      subAttributes: [
        str('formatted', 'The full name, formatted for display.'),
        str('familyName', 'The family name.'),
        str('givenName', 'The given name.'),
        str('middleName', 'The middle name(s).'),
        str('honorificPrefix', 'The honorific prefix(es).'),
        str('honorificSuffix', 'The honorific suffix(es).'),
      ],
    }),
    str('displayName', 'The name of the user, suitable for display.'),
    str('nickName', 'The casual way to address the user.'),
    attr('profileUrl', 'reference', { description: "A URI of the user's online profile.", referenceTypes: ['external'] }),
    str('title', "The user's title, such as 'Vice President'."),
    str('userType', 'The relationship between the organization and the user.'),
    str('preferredLanguage', "The user's preferred written or spoken language."),
    str('locale', "The user's default location for localisation."),
    str('timezone', "The user's time zone in IANA format."),
    attr('active', 'boolean', { description: 'Whether the user may sign in. False deactivates the user and keeps their data.' }),
    str('password', 'Accepted and discarded: Plumm signs users in through their identity provider.', {
      mutability: 'writeOnly',
      returned: 'never',
    }),
    multiValuedStrings('emails', 'Email addresses. The primary address is used for sign-in and cannot be changed.', ['work', 'home', 'other']),
    multiValuedStrings('phoneNumbers', 'Phone numbers.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    multiValuedStrings('ims', 'Instant messaging addresses.', ['aim', 'gtalk', 'icq', 'xmpp', 'msn', 'skype', 'qq', 'yahoo']),
    multiValuedStrings('photos', 'URLs of photos of the user.', ['photo', 'thumbnail'], 'reference'),
    attr('addresses', 'complex', {
      description: 'Physical mailing addresses.',
      multiValued: true,
      subAttributes: [
        str('formatted', 'The full mailing address.'),
        str('streetAddress', 'The street address.'),
        str('locality', 'The city or locality.'),
        str('region', 'The state or region.'),
        str('postalCode', 'The postal code.'),
        str('country', 'The country, as an ISO 3166-1 alpha-2 code.'),
        str('type', 'A label indicating the function of the address.', { canonicalValues: ['work', 'home', 'other'] }),
        attr('primary', 'boolean', { description: 'Whether this is the primary address.' }),
      ],
    }),
    attr('groups', 'complex', {
      description: 'The groups the user belongs to. Read-only: change membership through the Group resource.',
      multiValued: true,
      mutability: 'readOnly',
      subAttributes: readOnlyMember(['Group']),
    }),
    multiValuedStrings('entitlements', 'Entitlements of the user.', []),
    multiValuedStrings('roles', 'Roles of the user.', []),
    attr('x509Certificates', 'complex', {
      description: 'X.509 certificates of the user.',
      multiValued: true,
      subAttributes: [
        attr('value', 'binary', { description: 'The DER-encoded certificate, base64.' }),
        str('display', 'A human-readable name.'),
        str('type', 'A label indicating the function of the certificate.'),
        attr('primary', 'boolean', { description: 'Whether this is the primary certificate.' }),
      ],
    }),
  ],
};

export const enterpriseUserSchema: SchemaDef = {
  id: ENTERPRISE_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber', 'A numeric or alphanumeric identifier assigned by the organization.'),
    str('costCenter', 'The name of a cost center.'),
    str('organization', 'The name of an organization.'),
    str('division', 'The name of a division.'),
    str('department', 'The name of a department.'),
    attr('manager', 'complex', {
      description: "The user's manager.",
      subAttributes: [
        str('value', 'The id of the manager.'),
        attr('$ref', 'reference', { description: 'The URI of the manager.', referenceTypes: ['User'] }),
        str('displayName', 'The display name of the manager.', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

export const groupSchema: SchemaDef = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    str('displayName', 'A human-readable name for the group.', { required: true }),
    attr('members', 'complex', {
      description: 'Users in the group.',
      multiValued: true,
      subAttributes: [
        attr('value', 'string', { description: 'The id of the member.', mutability: 'immutable' }),
        attr('$ref', 'reference', { description: 'The URI of the member.', mutability: 'immutable', referenceTypes: ['User'] }),
        str('display', 'A human-readable name of the member.', { mutability: 'readOnly' }),
        str('type', 'The type of the member.', { mutability: 'immutable', canonicalValues: ['User'] }),
      ],
    }),
  ],
};

/** Attributes every resource carries (RFC 7643 §3.1), described for filtering and projection. */
export const commonAttributes: AttributeDef[] = [
  str('id', 'Unique identifier of the resource, assigned by the service.', {
    caseExact: true,
    mutability: 'readOnly',
    returned: 'always',
    uniqueness: 'server',
  }),
  str('externalId', 'Identifier of the resource in the provisioning client.', { caseExact: true }),
  attr('meta', 'complex', {
    mutability: 'readOnly',
    description: 'Resource metadata.',
    subAttributes: [
      str('resourceType', 'The resource type.', { mutability: 'readOnly', caseExact: true }),
      attr('created', 'dateTime', { mutability: 'readOnly', description: 'When the resource was added.' }),
      attr('lastModified', 'dateTime', { mutability: 'readOnly', description: 'When the resource was last changed.' }),
      attr('location', 'reference', { mutability: 'readOnly', description: 'The URI of the resource.', caseExact: true }),
      str('version', 'The version (ETag) of the resource.', { mutability: 'readOnly', caseExact: true }),
    ],
  }),
];

export interface ResourceTypeDef {
  name: 'User' | 'Group';
  endpoint: string;
  schema: SchemaDef;
  extensions: SchemaDef[];
}

export const userResourceType: ResourceTypeDef = {
  name: 'User',
  endpoint: '/Users',
  schema: userSchema,
  extensions: [enterpriseUserSchema],
};

export const groupResourceType: ResourceTypeDef = {
  name: 'Group',
  endpoint: '/Groups',
  schema: groupSchema,
  extensions: [],
};

export const allSchemas: SchemaDef[] = [userSchema, groupSchema, enterpriseUserSchema];

/** True for the core User or Group schema URN, which names top-level attributes. */
export function isCoreSchemaUrn(urn: string): boolean {
  return /^urn:ietf:params:scim:schemas:core:2\.0:(user|group)$/i.test(urn);
}

/** Looks up an attribute definition among `defs` without regard to case. */
export function findAttr(defs: readonly AttributeDef[] | undefined, name: string): AttributeDef | undefined {
  if (!defs) return undefined;
  const lower = name.toLowerCase();
  return defs.find((d) => d.name.toLowerCase() === lower);
}

/** The schema a URN names in this resource type, core or extension, without regard to case. */
export function findSchema(rt: ResourceTypeDef, urn: string): SchemaDef | undefined {
  const lower = urn.toLowerCase();
  if (rt.schema.id.toLowerCase() === lower) return rt.schema;
  return rt.extensions.find((s) => s.id.toLowerCase() === lower);
}

/** Top-level attributes of a resource type: its core schema plus the common ones. */
export function coreAttributes(rt: ResourceTypeDef): AttributeDef[] {
  return [...commonAttributes, ...rt.schema.attributes];
}
