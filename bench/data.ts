/** The users the benchmark seeds and creates, shaped as Okta or Entra send them. */
import { ENTERPRISE_SCHEMA, USER_SCHEMA } from '../src/scim/schema.js';

/** The userName of seeded user i; the parent builds filters from it. */
export function seededUserName(i: number): string {
  return `bench.user${i}@example.com`;
}

/** A user as Okta or Entra would POST it. */
export function userBody(userName: string, i: number): Record<string, unknown> {
  return {
    schemas: [USER_SCHEMA, ENTERPRISE_SCHEMA],
    userName,
    externalId: `ext-${userName}`,
    name: { givenName: `Given${i}`, familyName: `Family${i}`, formatted: `Given${i} Family${i}` },
    displayName: `Given${i} Family${i}`,
    emails: [{ value: userName, type: 'work', primary: true }],
    active: true,
    [ENTERPRISE_SCHEMA]: { department: `Department ${i % 40}`, employeeNumber: String(100000 + i) },
  };
}
