import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ScimError } from '../../src/scim/errors.js';
import { type PatchOperation, applyPatch, parsePatchRequest } from '../../src/scim/patch.js';
import type { JsonObject } from '../../src/scim/resource.js';
import { ENTERPRISE_SCHEMA, PATCH_SCHEMA, USER_SCHEMA, groupResourceType, userResourceType } from '../../src/scim/schema.js';

const MANAGER_ID = '2819c223-7f76-453a-919d-413861904646';
const USER_ID = '23a35c27-23d3-4c03-b4c5-6443c09e7173';
const OTHER_ID = '89bb1940-b905-4575-9e7f-6f887cfb368e';

/** A user in canonical form, shaped like the one Entra creates in its fixture. */
function entraUser(): JsonObject {
  return {
    id: USER_ID,
    externalId: '6c75de36-30fa-4d2d-a196-6bdcdb6b6539',
    userName: 'sam.okafor@example.com',
    active: true,
    displayName: 'Sam Okafor',
    emails: [{ primary: true, type: 'work', value: 'sam.okafor@example.com' }],
    name: { formatted: 'Sam Okafor', familyName: 'Okafor', givenName: 'Sam' },
    title: 'Analyst',
    phoneNumbers: [{ type: 'work', value: '+44 20 7946 0000' }],
    addresses: [{ type: 'work', formatted: '1 Example Street', locality: 'London', country: 'GB', primary: true }],
    [ENTERPRISE_SCHEMA]: { employeeNumber: '7001', department: 'Finance', manager: { value: MANAGER_ID } },
    meta: { resourceType: 'User', created: '2024-01-01T00:00:00Z', lastModified: '2024-01-01T00:00:00Z' },
  };
}

function group(members: string[]): JsonObject {
  return {
    id: 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b',
    displayName: 'Wellbeing Champions',
    members: members.map((value) => ({ value })),
  };
}

const patchUser = (resource: JsonObject, ops: PatchOperation[]) => applyPatch(userResourceType, resource, ops);

/** Asserts that `fn` throws a 400 ScimError with `scimType`; returns the error for further checks. */
function assertScimError(fn: () => unknown, scimType: string): ScimError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ScimError, `expected a ScimError, got ${String(caught)}`);
  assert.equal(caught.status, 400);
  assert.equal(caught.scimType, scimType, caught.message);
  return caught;
}

/** Asserts that applying `ops` to the Entra-shaped user fails with a 400 of `scimType`. */
const rejects = (ops: PatchOperation[], scimType: string) => assertScimError(() => patchUser(entraUser(), ops), scimType);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

describe('parsePatchRequest', () => {
  test('accepts Entra capitalised op names and returns them in lower case', () => {
    const ops = parsePatchRequest({
      schemas: [PATCH_SCHEMA],
      Operations: [
        { op: 'Replace', path: 'displayName', value: 'Sam A. Okafor' },
        { op: 'ADD', path: 'members', value: [{ value: USER_ID }] },
        { op: 'Remove', path: 'members', value: [{ $ref: null, value: USER_ID }] },
      ],
    });
    assert.deepEqual(
      ops.map((o) => o.op),
      ['replace', 'add', 'remove'],
    );
    assert.deepEqual(ops[0], { op: 'replace', path: 'displayName', value: 'Sam A. Okafor' });
  });

  test('accepts an "operations" member in any case and a body without schemas', () => {
    const ops = parsePatchRequest({ operations: [{ op: 'replace', value: { active: false } }] });
    assert.deepEqual(ops, [{ op: 'replace', value: { active: false } }]);
  });

  test('drops a blank path so the operation is path-less', () => {
    assert.deepEqual(parsePatchRequest({ Operations: [{ op: 'add', path: ' ', value: { title: 'x' } }] }), [
      { op: 'add', value: { title: 'x' } },
    ]);
  });

  test('rejects schemas that lack the PatchOp URN with 400 invalidSyntax', () => {
    assertScimError(() => parsePatchRequest({ schemas: [USER_SCHEMA], Operations: [{ op: 'add', value: {} }] }), 'invalidSyntax');
  });

  test('rejects a body that is not an object or has no operations with 400 invalidSyntax', () => {
    assertScimError(() => parsePatchRequest([]), 'invalidSyntax');
    assertScimError(() => parsePatchRequest({ schemas: [PATCH_SCHEMA] }), 'invalidSyntax');
    assertScimError(() => parsePatchRequest({ Operations: [] }), 'invalidSyntax');
    assertScimError(() => parsePatchRequest({ Operations: { op: 'add' } }), 'invalidSyntax');
  });

  test('rejects an unknown op with 400 invalidSyntax naming the operation index', () => {
    const err = assertScimError(
      () =>
        parsePatchRequest({
          Operations: [
            { op: 'replace', path: 'title', value: 'x' },
            { op: 'merge', path: 'title', value: 'y' },
          ],
        }),
      'invalidSyntax',
    );
    assert.match(err.message, /Operations\[1\]/);
    assert.match(err.message, /merge/);
  });

  test('rejects an operation that is not an object, or a path that is not a string, with 400 invalidSyntax', () => {
    assertScimError(() => parsePatchRequest({ Operations: ['add'] }), 'invalidSyntax');
    assertScimError(() => parsePatchRequest({ Operations: [{ op: 'add', path: 42, value: 'x' }] }), 'invalidSyntax');
  });

  test('rejects remove without a path with 400 noTarget', () => {
    assertScimError(() => parsePatchRequest({ Operations: [{ op: 'remove' }] }), 'noTarget');
  });

  test('rejects add or replace without a value with 400 invalidValue', () => {
    assertScimError(() => parsePatchRequest({ Operations: [{ op: 'add', path: 'title' }] }), 'invalidValue');
    assertScimError(() => parsePatchRequest({ Operations: [{ op: 'Replace', path: 'title' }] }), 'invalidValue');
  });
});

describe('applyPatch: Okta request shapes', () => {
  test('a path-less replace of active deactivates and reactivates the user', () => {
    const off = patchUser(entraUser(), [{ op: 'replace', value: { active: false } }]);
    assert.equal(off.active, false);
    assert.equal(patchUser(off, [{ op: 'replace', value: { active: true } }]).active, true);
  });

  test('a path-less replace of name and displayName changes the given sub-attributes and keeps the others', () => {
    const out = patchUser(entraUser(), [
      { op: 'replace', value: { name: { givenName: 'Dana', familyName: 'Reyes-Ortiz' }, displayName: 'Dana Reyes-Ortiz' } },
    ]);
    assert.deepEqual(out.name, { formatted: 'Sam Okafor', familyName: 'Reyes-Ortiz', givenName: 'Dana' });
    assert.equal(out.displayName, 'Dana Reyes-Ortiz');
  });

  test('a path-less group replace ignores the echoed id and meta', () => {
    const out = applyPatch(groupResourceType, group([]), [
      { op: 'replace', value: { id: 'something-else', meta: { resourceType: 'Group' }, displayName: 'Test SCIMv2' } },
    ]);
    assert.equal(out.id, 'abf4dd94-a4c0-4f67-89c9-76b03340cb9b');
    assert.equal(out.displayName, 'Test SCIMv2');
    assert.equal(out.meta, undefined);
  });

  test('members are added, removed by a value filter, and cleared by replacing them with an empty list', () => {
    let g = applyPatch(groupResourceType, group([OTHER_ID]), [
      { op: 'add', path: 'members', value: [{ value: USER_ID, display: 'test.user@okta.local' }] },
    ]);
    assert.deepEqual(g.members, [{ value: OTHER_ID }, { value: USER_ID, display: 'test.user@okta.local' }]);
    g = applyPatch(groupResourceType, g, [{ op: 'remove', path: `members[value eq "${OTHER_ID}"]` }]);
    assert.deepEqual(g.members, [{ value: USER_ID, display: 'test.user@okta.local' }]);
    g = applyPatch(groupResourceType, g, [{ op: 'replace', path: 'members', value: [] }]);
    assert.equal('members' in g, false);
  });
});

describe('applyPatch: Entra request shapes', () => {
  test('the attribute update request changes each attribute as Entra expects', () => {
    const ops = parsePatchRequest({
      schemas: [PATCH_SCHEMA],
      Operations: [
        { op: 'Replace', path: 'displayName', value: 'Sam A. Okafor' },
        { op: 'Replace', path: 'name.givenName', value: 'Samuel' },
        { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+44 7700 900000' },
        { op: 'Replace', path: 'addresses[type eq "work"].locality', value: 'Manchester' },
        { op: 'Replace', path: `${ENTERPRISE_SCHEMA}:department`, value: 'Risk' },
        { op: 'Add', path: `${ENTERPRISE_SCHEMA}:manager`, value: OTHER_ID },
      ],
    });
    const out = patchUser(entraUser(), ops);
    assert.equal(out.displayName, 'Sam A. Okafor');
    assert.deepEqual(out.name, { formatted: 'Sam Okafor', familyName: 'Okafor', givenName: 'Samuel' });
    assert.deepEqual(out.phoneNumbers, [
      { type: 'work', value: '+44 20 7946 0000' },
      { type: 'mobile', value: '+44 7700 900000' },
    ]);
    assert.deepEqual(out.addresses, [
      { type: 'work', formatted: '1 Example Street', locality: 'Manchester', country: 'GB', primary: true },
    ]);
    assert.deepEqual(out[ENTERPRISE_SCHEMA], { employeeNumber: '7001', department: 'Risk', manager: { value: OTHER_ID } });
  });

  test('string booleans "False" and "True" become booleans', () => {
    const off = patchUser(entraUser(), [{ op: 'replace', path: 'active', value: 'False' }]);
    assert.equal(off.active, false);
    assert.equal(patchUser(off, [{ op: 'replace', path: 'active', value: 'True' }]).active, true);
  });

  test('replacing emails[type eq "work"].value updates the existing work email', () => {
    const out = patchUser(entraUser(), [{ op: 'replace', path: 'emails[type eq "work"].value', value: 'updated@example.com' }]);
    assert.deepEqual(out.emails, [{ primary: true, type: 'work', value: 'updated@example.com' }]);
  });

  test('a value-path add on a user without the attribute creates it', () => {
    const user = entraUser();
    delete user.phoneNumbers;
    const out = patchUser(user, [{ op: 'add', path: 'phoneNumbers[type eq "mobile"].value', value: '+44 7700 900000' }]);
    assert.deepEqual(out.phoneNumbers, [{ type: 'mobile', value: '+44 7700 900000' }]);
  });

  test('removing members by listing them removes only those, ignoring $ref', () => {
    const out = applyPatch(groupResourceType, group([USER_ID, MANAGER_ID]), [
      { op: 'remove', path: 'members', value: [{ $ref: null, value: MANAGER_ID }] },
    ]);
    assert.deepEqual(out.members, [{ value: USER_ID }]);
  });

  test('removing the last listed member removes the members attribute', () => {
    const out = applyPatch(groupResourceType, group([USER_ID]), [
      { op: 'remove', path: 'members', value: [{ value: USER_ID, display: 'x' }] },
    ]);
    assert.equal('members' in out, false);
  });

  test('adding members drops a null $ref and does not add an exact duplicate', () => {
    const out = applyPatch(groupResourceType, group([USER_ID]), [
      { op: 'add', path: 'members', value: [{ $ref: null, value: USER_ID }, { value: MANAGER_ID }, { value: MANAGER_ID }] },
    ]);
    assert.deepEqual(out.members, [{ value: USER_ID }, { value: MANAGER_ID }]);
  });

  test('a bare string for a members add is read as the member id', () => {
    const out = applyPatch(groupResourceType, group([]), [{ op: 'add', path: 'members', value: 'string id 1' }]);
    assert.deepEqual(out.members, [{ value: 'string id 1' }]);
  });

  test('a bare manager id replaces the manager, dropping the old manager display name', () => {
    const user = entraUser();
    (user[ENTERPRISE_SCHEMA] as JsonObject).manager = { value: MANAGER_ID, displayName: 'Old Boss' };
    const out = patchUser(user, [{ op: 'replace', path: `${ENTERPRISE_SCHEMA}:manager`, value: OTHER_ID }]);
    assert.deepEqual((out[ENTERPRISE_SCHEMA] as JsonObject).manager, { value: OTHER_ID });
  });

  test('the enterprise URN followed by a dot (Microsoft test collection) addresses the manager', () => {
    const out = patchUser(entraUser(), [{ op: 'replace', path: `${ENTERPRISE_SCHEMA}.manager`, value: OTHER_ID }]);
    assert.deepEqual((out[ENTERPRISE_SCHEMA] as JsonObject).manager, { value: OTHER_ID });
  });
});

describe('applyPatch: path resolution', () => {
  test('attribute names in paths are case-insensitive and stored as the schema spells them', () => {
    const out = patchUser(entraUser(), [
      { op: 'replace', path: 'DISPLAYNAME', value: 'X' },
      { op: 'add', path: 'PhoneNumbers[Type eq "Mobile"].Value', value: '+1 555 0100' },
    ]);
    assert.equal(out.displayName, 'X');
    assert.deepEqual((out.phoneNumbers as JsonObject[])[1], { type: 'Mobile', value: '+1 555 0100' });
  });

  test('name.givenName creates the name when the user has none', () => {
    const user = entraUser();
    delete user.name;
    assert.deepEqual(patchUser(user, [{ op: 'add', path: 'name.givenName', value: 'Sam' }]).name, { givenName: 'Sam' });
  });

  test('a core schema URN path addresses the core attribute', () => {
    const out = patchUser(entraUser(), [{ op: 'replace', path: `${USER_SCHEMA}:name.familyName`, value: 'Adeyemi' }]);
    assert.equal((out.name as JsonObject).familyName, 'Adeyemi');
  });

  test('an enterprise URN path creates the extension object when absent', () => {
    const user = entraUser();
    delete user[ENTERPRISE_SCHEMA];
    const out = patchUser(user, [{ op: 'add', path: `${ENTERPRISE_SCHEMA}:department`, value: 'Risk' }]);
    assert.deepEqual(out[ENTERPRISE_SCHEMA], { department: 'Risk' });
  });

  test('path-less values accept dotted names, full URN paths and a whole extension object', () => {
    const out = patchUser(entraUser(), [
      {
        op: 'replace',
        value: {
          'name.givenName': 'Samuel',
          [`${ENTERPRISE_SCHEMA}:manager.value`]: OTHER_ID,
          [ENTERPRISE_SCHEMA]: { costCenter: 'CC-1', department: 'Audit' },
        },
      },
    ]);
    assert.equal((out.name as JsonObject).givenName, 'Samuel');
    assert.deepEqual(out[ENTERPRISE_SCHEMA], {
      employeeNumber: '7001',
      department: 'Audit',
      manager: { value: OTHER_ID },
      costCenter: 'CC-1',
    });
  });

  test('path-less value keys may carry a value filter, as Entra sometimes sends', () => {
    const out = patchUser(entraUser(), [
      { op: 'add', value: { 'emails[type eq "work"].value': 'new@example.com', 'name.familyName': 'Obi' } },
    ]);
    assert.deepEqual(out.emails, [{ primary: true, type: 'work', value: 'new@example.com' }]);
    assert.equal((out.name as JsonObject).familyName, 'Obi');
  });

  test('a path into an unknown extension keeps the value under that URN', () => {
    const urn = 'urn:acme:params:scim:schemas:extension:2.0:User';
    let out = patchUser(entraUser(), [{ op: 'add', path: `${urn}:costCode`, value: 'A-17' }]);
    assert.deepEqual(out[urn], { costCode: 'A-17' });
    out = patchUser(out, [{ op: 'replace', value: { [urn]: { badge: 42 } } }]);
    assert.deepEqual(out[urn], { costCode: 'A-17', badge: 42 });
    out = patchUser(out, [{ op: 'remove', path: `${urn}:costCode` }]);
    assert.deepEqual(out[urn], { badge: 42 });
    out = patchUser(out, [{ op: 'add', path: `${urn}:badge`, value: null }]);
    assert.deepEqual(out[urn], { badge: 42 });
    out = patchUser(out, [{ op: 'remove', path: urn }]);
    assert.equal(urn in out, false);
  });

  test('unknown attributes of the enterprise extension are kept', () => {
    const out = patchUser(entraUser(), [{ op: 'add', path: `${ENTERPRISE_SCHEMA}:startDate`, value: '2024-05-01' }]);
    assert.equal((out[ENTERPRISE_SCHEMA] as JsonObject).startDate, '2024-05-01');
  });

  test('removing the enterprise URN path removes the whole extension', () => {
    assert.equal(ENTERPRISE_SCHEMA in patchUser(entraUser(), [{ op: 'remove', path: ENTERPRISE_SCHEMA }]), false);
  });

  test('an unknown core attribute or sub-attribute is rejected with 400 invalidPath', () => {
    rejects([{ op: 'replace', path: 'shoeSize', value: '9' }], 'invalidPath');
    rejects([{ op: 'replace', path: 'name.nickname', value: 'x' }], 'invalidPath');
    rejects([{ op: 'replace', value: { shoeSize: '9' } }], 'invalidPath');
  });

  test('a path that does not parse is rejected with 400 invalidPath carrying the parser message', () => {
    const err = rejects([{ op: 'remove', path: 'emails[type eq "work"' }], 'invalidPath');
    assert.match(err.message, /Missing "\]"/);
    rejects([{ op: 'remove', path: 'emails[type work]' }], 'invalidPath');
  });

  test('a filter on a single-valued attribute is rejected with 400 invalidPath', () => {
    rejects([{ op: 'remove', path: 'name[givenName eq "Sam"]' }], 'invalidPath');
  });

  test('a core schema URN of another resource type is rejected with 400 invalidPath', () => {
    const ops: PatchOperation[] = [{ op: 'add', path: `${USER_SCHEMA}:title`, value: 'x' }];
    assertScimError(() => applyPatch(groupResourceType, group([]), ops), 'invalidPath');
  });
});

describe('applyPatch: mutability', () => {
  test('a path naming id, meta or groups is rejected with 400 mutability', () => {
    rejects([{ op: 'replace', path: 'id', value: 'x' }], 'mutability');
    rejects([{ op: 'replace', path: 'meta.lastModified', value: '2024-01-01T00:00:00Z' }], 'mutability');
    rejects([{ op: 'add', path: 'groups', value: [{ value: 'g1' }] }], 'mutability');
    rejects([{ op: 'remove', path: 'groups' }], 'mutability');
  });

  test('groups in a path-less value is rejected with 400 mutability', () => {
    rejects([{ op: 'add', value: { groups: [{ value: 'g1' }] } }], 'mutability');
  });

  test('a password is accepted and never stored', () => {
    const out = patchUser(entraUser(), [
      { op: 'replace', path: 'password', value: 'hunter2' },
      { op: 'replace', value: { password: 'hunter3', title: 'Lead' } },
    ]);
    assert.equal('password' in out, false);
    assert.equal(out.title, 'Lead');
  });
});

describe('applyPatch: add, replace and remove', () => {
  test('add appends a single object to a multi-valued attribute and skips an exact duplicate', () => {
    const out = patchUser(entraUser(), [
      { op: 'add', path: 'emails', value: { type: 'home', value: 'sam@home.example' } },
      { op: 'add', path: 'emails', value: [{ type: 'home', value: 'sam@home.example' }] },
    ]);
    assert.deepEqual(out.emails, [
      { primary: true, type: 'work', value: 'sam.okafor@example.com' },
      { type: 'home', value: 'sam@home.example' },
    ]);
  });

  test('add on a single-valued complex attribute merges its sub-attributes', () => {
    const out = patchUser(entraUser(), [{ op: 'add', path: 'name', value: { middleName: 'Ade' } }]);
    assert.deepEqual(out.name, { formatted: 'Sam Okafor', familyName: 'Okafor', givenName: 'Sam', middleName: 'Ade' });
  });

  test('replace on a multi-valued attribute without a filter replaces the whole list', () => {
    const value = [{ type: 'mobile', value: '+1 555 0100' }];
    const out = patchUser(entraUser(), [{ op: 'replace', path: 'phoneNumbers', value }]);
    assert.deepEqual(out.phoneNumbers, [{ type: 'mobile', value: '+1 555 0100' }]);
  });

  test('replace with a value filter and no sub-attribute replaces the matching element', () => {
    const out = patchUser(entraUser(), [
      {
        op: 'replace',
        path: 'addresses[type eq "work"]',
        value: { type: 'work', streetAddress: '2 New Road', locality: 'Leeds' },
      },
    ]);
    assert.deepEqual(out.addresses, [{ type: 'work', streetAddress: '2 New Road', locality: 'Leeds' }]);
  });

  test('add with a value filter that matches nothing creates an element from the filter and the value', () => {
    const out = patchUser(entraUser(), [{ op: 'add', path: 'addresses[type eq "home"]', value: { locality: 'York' } }]);
    assert.deepEqual((out.addresses as JsonObject[])[1], { type: 'home', locality: 'York' });
  });

  test('a filter of eq comparisons joined by and creates an element with all of them', () => {
    const out = patchUser(entraUser(), [
      { op: 'replace', path: 'emails[type eq "home" and display eq "Home"].value', value: 'sam@home.example' },
    ]);
    assert.deepEqual((out.emails as JsonObject[])[1], { type: 'home', display: 'Home', value: 'sam@home.example' });
  });

  test('a filter that matches nothing and is not a plain equality is rejected with 400 noTarget', () => {
    rejects([{ op: 'replace', path: 'emails[type co "hom"].value', value: 'x@y' }], 'noTarget');
    rejects([{ op: 'replace', path: 'emails[type eq "home" or type eq "other"].value', value: 'x@y' }], 'noTarget');
  });

  test('remove with a filter that matches nothing changes nothing', () => {
    assert.deepEqual(patchUser(entraUser(), [{ op: 'remove', path: 'emails[type eq "home"]' }]), entraUser());
  });

  test('remove with a filter removes the matching elements', () => {
    const user = entraUser();
    user.phoneNumbers = [
      { type: 'work', value: '+44 20 7946 0000' },
      { type: 'mobile', value: '+44 7700 900000' },
    ];
    const out = patchUser(user, [{ op: 'remove', path: 'phoneNumbers[type eq "work"]' }]);
    assert.deepEqual(out.phoneNumbers, [{ type: 'mobile', value: '+44 7700 900000' }]);
  });

  test('remove with a filter and a sub-attribute removes only that sub-attribute', () => {
    const out = patchUser(entraUser(), [{ op: 'remove', path: 'addresses[type eq "work"].locality' }]);
    assert.deepEqual(out.addresses, [{ type: 'work', formatted: '1 Example Street', country: 'GB', primary: true }]);
  });

  test('an attribute left empty is removed', () => {
    const user = entraUser();
    user.name = { givenName: 'Sam' };
    const out = patchUser(user, [
      { op: 'remove', path: 'name.givenName' },
      { op: 'remove', path: 'phoneNumbers[type eq "work"]' },
    ]);
    assert.equal('name' in out, false);
    assert.equal('phoneNumbers' in out, false);
  });

  test('replace with null clears the attribute and add with null changes nothing', () => {
    assert.equal('title' in patchUser(entraUser(), [{ op: 'replace', path: 'title', value: null }]), false);
    assert.equal(patchUser(entraUser(), [{ op: 'add', path: 'title', value: null }]).title, 'Analyst');
  });
});

describe('applyPatch: primary', () => {
  test('adding a primary email makes the previous primary email non-primary', () => {
    const value = [{ type: 'home', value: 'sam@home.example', primary: true }];
    const out = patchUser(entraUser(), [{ op: 'add', path: 'emails', value }]);
    assert.deepEqual(out.emails, [
      { primary: false, type: 'work', value: 'sam.okafor@example.com' },
      { type: 'home', value: 'sam@home.example', primary: true },
    ]);
  });

  test('setting primary through a value filter hands it over', () => {
    const user = entraUser();
    user.emails = [
      { primary: true, type: 'work', value: 'a@example.com' },
      { type: 'home', value: 'b@example.com' },
    ];
    const out = patchUser(user, [{ op: 'replace', path: 'emails[value eq "B@example.com"].primary', value: true }]);
    assert.deepEqual(out.emails, [
      { primary: false, type: 'work', value: 'a@example.com' },
      { type: 'home', value: 'b@example.com', primary: true },
    ]);
  });

  test('a replaced list with two values marked primary is refused with 400 invalidValue (RFC 7643 §2.4: at most one)', () => {
    rejects(
      [
        {
          op: 'replace',
          path: 'emails',
          value: [
            { value: 'a@example.com', primary: true },
            { value: 'b@example.com', primary: true },
          ],
        },
      ],
      'invalidValue',
    );
  });
});

describe('applyPatch: values', () => {
  test('a number for a string attribute becomes a string', () => {
    const out = patchUser(entraUser(), [{ op: 'replace', path: `${ENTERPRISE_SCHEMA}:employeeNumber`, value: 7002 }]);
    assert.equal((out[ENTERPRISE_SCHEMA] as JsonObject).employeeNumber, '7002');
  });

  test('a value of the wrong type is rejected with 400 invalidValue', () => {
    rejects([{ op: 'replace', path: 'active', value: 'yes' }], 'invalidValue');
    rejects([{ op: 'replace', path: 'title', value: ['a', 'b'] }], 'invalidValue');
    rejects([{ op: 'replace', path: 'emails[type eq "work"]', value: [{ value: 'a@x' }, { value: 'b@x' }] }], 'invalidValue');
  });

  test('a string for a complex attribute without a value sub-attribute is rejected with 400 invalidValue', () => {
    rejects([{ op: 'replace', path: 'name', value: 'Sam Okafor' }], 'invalidValue');
    rejects([{ op: 'add', path: 'addresses', value: '1 Example Street' }], 'invalidValue');
  });

  test('a path-less value that is not an object is rejected with 400 invalidValue', () => {
    rejects([{ op: 'replace', value: 'active' }], 'invalidValue');
  });

  test('an extension value that is not an object is rejected with 400 invalidValue', () => {
    rejects([{ op: 'add', path: ENTERPRISE_SCHEMA, value: 'Risk' }], 'invalidValue');
  });
});

describe('applyPatch: safety', () => {
  test('__proto__ keys in values are inert', () => {
    const value = JSON.parse(
      `{"__proto__": {"polluted": true}, "name": {"__proto__": {"polluted": true}, "givenName": "Eve"},
        "${ENTERPRISE_SCHEMA}": {"__proto__": {"polluted": true}, "department": "Ops"},
        "urn:acme:ext:2.0:User": {"__proto__": {"polluted": true}, "a": {"__proto__": {"polluted": true}}}}`,
    ) as unknown;
    const out = patchUser(entraUser(), [
      { op: 'replace', value },
      { op: 'add', path: 'emails', value: JSON.parse('[{"__proto__": {"polluted": true}, "value": "e@x"}]') as unknown },
    ]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal(Object.getPrototypeOf(out.name), Object.prototype);
    assert.equal((out.name as JsonObject).givenName, 'Eve');
    assert.equal((out as Record<string, unknown>).polluted, undefined);
    assert.equal((out.name as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(out, '__proto__'), false);
    assert.equal((out[ENTERPRISE_SCHEMA] as JsonObject).department, 'Ops');
    assert.equal(JSON.stringify(out).includes('polluted'), false);
  });

  test('a reserved name in a path into an unknown extension is rejected with 400 invalidPath', () => {
    rejects([{ op: 'add', path: 'urn:acme:ext:2.0:User:constructor', value: 'x' }], 'invalidPath');
  });

  test('a reserved name in a value filter never becomes a key of a created element', () => {
    rejects([{ op: 'add', path: 'emails[constructor eq "x"].value', value: 'x' }], 'noTarget');
  });

  test('the input resource is never modified', () => {
    const input = deepFreeze(entraUser());
    const out = patchUser(input, [
      { op: 'replace', path: 'name.givenName', value: 'Samuel' },
      { op: 'add', path: 'emails', value: { value: 'x@example.com', primary: true } },
      { op: 'replace', path: 'addresses[type eq "work"].locality', value: 'Leeds' },
      { op: 'remove', path: `${ENTERPRISE_SCHEMA}:manager` },
    ]);
    assert.deepEqual(input, entraUser());
    assert.notEqual(out.name, input.name);
  });

  test('a failing operation fails the whole request and names its index', () => {
    const input = entraUser();
    const err = assertScimError(
      () =>
        patchUser(input, [
          { op: 'replace', path: 'title', value: 'Lead' },
          { op: 'replace', path: 'active', value: 'maybe' },
        ]),
      'invalidValue',
    );
    assert.match(err.message, /^Operations\[1\]: /);
    assert.equal(input.title, 'Analyst');
  });
});
