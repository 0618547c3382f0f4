import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  type AttrPath,
  type CompareOp,
  type Filter,
  type FilterValue,
  FilterSyntaxError,
  MAX_FILTER_DEPTH,
  formatFilter,
  matches,
  parseFilter,
  parsePatchPath,
} from '../../src/scim/filter.js';

const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

// Small AST builders so expected trees read like the filters they describe.
function p(attr: string, sub?: string, uri?: string): AttrPath {
  const path: AttrPath = { attr };
  if (uri !== undefined) path.uri = uri;
  if (sub !== undefined) path.sub = sub;
  return path;
}
const cmp = (path: AttrPath, op: CompareOp, value: FilterValue): Filter => ({ kind: 'compare', path, op, value });
const pr = (path: AttrPath): Filter => ({ kind: 'present', path });
const and = (left: Filter, right: Filter): Filter => ({ kind: 'and', left, right });
const or = (left: Filter, right: Filter): Filter => ({ kind: 'or', left, right });
const not = (filter: Filter): Filter => ({ kind: 'not', filter });
const vp = (path: AttrPath, filter: Filter): Filter => ({ kind: 'valuePath', path, filter });

function assertSyntaxError(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FilterSyntaxError, `expected FilterSyntaxError, got ${String(err)}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('parseFilter: RFC 7644 §3.4.2.2 example filters', () => {
  const examples: Array<[string, Filter]> = [
    ['userName eq "bjensen"', cmp(p('userName'), 'eq', 'bjensen')],
    ['name.familyName co "O\'Malley"', cmp(p('name', 'familyName'), 'co', "O'Malley")],
    ['userName sw "J"', cmp(p('userName'), 'sw', 'J')],
    [`${CORE_USER}:userName sw "J"`, cmp(p('userName', undefined, CORE_USER), 'sw', 'J')],
    ['title pr', pr(p('title'))],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', cmp(p('meta', 'lastModified'), 'gt', '2011-05-13T04:42:34Z')],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', cmp(p('meta', 'lastModified'), 'ge', '2011-05-13T04:42:34Z')],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', cmp(p('meta', 'lastModified'), 'lt', '2011-05-13T04:42:34Z')],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', cmp(p('meta', 'lastModified'), 'le', '2011-05-13T04:42:34Z')],
    ['title pr and userType eq "Employee"', and(pr(p('title')), cmp(p('userType'), 'eq', 'Employee'))],
    ['title pr or userType eq "Intern"', or(pr(p('title')), cmp(p('userType'), 'eq', 'Intern'))],
    [`schemas eq "${ENTERPRISE}"`, cmp(p('schemas'), 'eq', ENTERPRISE)],
    [
      'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp(p('userType'), 'eq', 'Employee'),
        or(cmp(p('emails'), 'co', 'example.com'), cmp(p('emails', 'value'), 'co', 'example.org')),
      ),
    ],
    [
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      and(
        cmp(p('userType'), 'ne', 'Employee'),
        not(or(cmp(p('emails'), 'co', 'example.com'), cmp(p('emails', 'value'), 'co', 'example.org'))),
      ),
    ],
    [
      'userType eq "Employee" and (emails.type eq "work")',
      and(cmp(p('userType'), 'eq', 'Employee'), cmp(p('emails', 'type'), 'eq', 'work')),
    ],
    [
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      and(
        cmp(p('userType'), 'eq', 'Employee'),
        vp(p('emails'), and(cmp(p('type'), 'eq', 'work'), cmp(p('value'), 'co', '@example.com'))),
      ),
    ],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      or(
        vp(p('emails'), and(cmp(p('type'), 'eq', 'work'), cmp(p('value'), 'co', '@example.com'))),
        vp(p('ims'), and(cmp(p('type'), 'eq', 'xmpp'), cmp(p('value'), 'co', '@foo.com'))),
      ),
    ],
  ];
  for (const [text, expected] of examples) {
    test(text, () => assert.deepStrictEqual(parseFilter(text), expected));
  }
});

describe('parseFilter: grammar details', () => {
  test('and binds tighter than or', () => {
    assert.deepStrictEqual(parseFilter('a pr or b pr and c pr'), or(pr(p('a')), and(pr(p('b')), pr(p('c')))));
    assert.deepStrictEqual(parseFilter('a pr and b pr or c pr'), or(and(pr(p('a')), pr(p('b'))), pr(p('c'))));
  });

  test('and / or are left-associative', () => {
    assert.deepStrictEqual(parseFilter('a pr and b pr and c pr'), and(and(pr(p('a')), pr(p('b'))), pr(p('c'))));
    assert.deepStrictEqual(parseFilter('a pr or b pr or c pr'), or(or(pr(p('a')), pr(p('b'))), pr(p('c'))));
  });

  test('parentheses override precedence', () => {
    assert.deepStrictEqual(parseFilter('(a pr or b pr) and c pr'), and(or(pr(p('a')), pr(p('b'))), pr(p('c'))));
    assert.deepStrictEqual(parseFilter('((a pr))'), pr(p('a')));
  });

  test('not binds tighter than and', () => {
    assert.deepStrictEqual(parseFilter('not (a pr) and b pr'), and(not(pr(p('a'))), pr(p('b'))));
  });

  test('operators and logical keywords are case-insensitive; attribute names keep their case', () => {
    assert.deepStrictEqual(
      parseFilter('UserName EQ "x" And Title Pr OR NOT (nickName Sw "y")'),
      or(and(cmp(p('UserName'), 'eq', 'x'), pr(p('Title'))), not(cmp(p('nickName'), 'sw', 'y'))),
    );
    for (const op of ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'] as const) {
      assert.deepStrictEqual(parseFilter(`a ${op.toUpperCase()} "v"`), cmp(p('a'), op, 'v'));
    }
  });

  test('whitespace: extra spaces, tabs and leading/trailing blanks are accepted', () => {
    assert.deepStrictEqual(parseFilter('   userName   eq\t"x"   and ( title pr )  '), and(cmp(p('userName'), 'eq', 'x'), pr(p('title'))));
  });

  test('JSON string escapes are decoded', () => {
    assert.deepStrictEqual(parseFilter('userName eq "a\\"b"'), cmp(p('userName'), 'eq', 'a"b'));
    assert.deepStrictEqual(parseFilter('userName eq "caf\\u00e9"'), cmp(p('userName'), 'eq', 'café'));
    assert.deepStrictEqual(parseFilter('userName eq "\\\\ \\/ \\b \\f \\n \\r \\t"'), cmp(p('userName'), 'eq', '\\ / \b \f \n \r \t'));
    assert.deepStrictEqual(parseFilter('userName eq "\\uD83D\\uDE00"'), cmp(p('userName'), 'eq', '😀'));
    assert.deepStrictEqual(parseFilter('userName eq "unicode é ok"'), cmp(p('userName'), 'eq', 'unicode é ok'));
    assert.deepStrictEqual(parseFilter('userName eq ""'), cmp(p('userName'), 'eq', ''));
  });

  test('numbers: integer, negative, decimal, exponent', () => {
    assert.deepStrictEqual(parseFilter('n eq 42'), cmp(p('n'), 'eq', 42));
    assert.deepStrictEqual(parseFilter('n gt -7'), cmp(p('n'), 'gt', -7));
    assert.deepStrictEqual(parseFilter('n lt 3.25'), cmp(p('n'), 'lt', 3.25));
    assert.deepStrictEqual(parseFilter('n le 1.5e3'), cmp(p('n'), 'le', 1500));
    assert.deepStrictEqual(parseFilter('n ge -2E-2'), cmp(p('n'), 'ge', -0.02));
    assert.deepStrictEqual(parseFilter('n eq 1e+2'), cmp(p('n'), 'eq', 100));
    assert.deepStrictEqual(parseFilter('(n eq 0)'), cmp(p('n'), 'eq', 0));
  });

  test('true / false / null literals, case-insensitive', () => {
    assert.deepStrictEqual(parseFilter('active eq true'), cmp(p('active'), 'eq', true));
    assert.deepStrictEqual(parseFilter('active eq FALSE'), cmp(p('active'), 'eq', false));
    assert.deepStrictEqual(parseFilter('title eq Null'), cmp(p('title'), 'eq', null));
  });

  test('URN-prefixed paths split on the last colon, then on a dot', () => {
    assert.deepStrictEqual(
      parseFilter(`${ENTERPRISE}:employeeNumber eq "701984"`),
      cmp(p('employeeNumber', undefined, ENTERPRISE), 'eq', '701984'),
    );
    assert.deepStrictEqual(
      parseFilter(`${ENTERPRISE}:manager.value eq "26118915"`),
      cmp(p('manager', 'value', ENTERPRISE), 'eq', '26118915'),
    );
    const upper = 'URN:IETF:params:scim:schemas:core:2.0:User';
    assert.deepStrictEqual(parseFilter(`${upper}:userName pr`), pr(p('userName', undefined, upper)));
  });

  test('$ref, hyphens, underscores and digits in names', () => {
    assert.deepStrictEqual(parseFilter('members.$ref pr'), pr(p('members', '$ref')));
    assert.deepStrictEqual(parseFilter('members[$ref co "/Users/"]'), vp(p('members'), cmp(p('$ref'), 'co', '/Users/')));
    assert.deepStrictEqual(parseFilter('x-Attr_2.sub-1 pr'), pr(p('x-Attr_2', 'sub-1')));
  });

  test('value filters may use and / or / not / grouping inside the brackets', () => {
    assert.deepStrictEqual(
      parseFilter('emails[not (type eq "home") and (value ew ".com" or primary eq true)]'),
      vp(
        p('emails'),
        and(not(cmp(p('type'), 'eq', 'home')), or(cmp(p('value'), 'ew', '.com'), cmp(p('primary'), 'eq', true))),
      ),
    );
    assert.deepStrictEqual(
      parseFilter(`${ENTERPRISE}:manager[value pr]`),
      vp(p('manager', undefined, ENTERPRISE), pr(p('value'))),
    );
  });

  test('nesting up to the limit is accepted', () => {
    const depth = MAX_FILTER_DEPTH;
    assert.deepStrictEqual(parseFilter(`${'('.repeat(depth)}a pr${')'.repeat(depth)}`), pr(p('a')));
  });

  test('long and-chains parse without deep recursion', () => {
    const terms = 100_000;
    const f = parseFilter(Array.from({ length: terms }, () => 'a pr').join(' and '));
    assert.equal(f.kind, 'and');
    assert.equal(formatFilter(f).length, terms * 'a pr'.length + (terms - 1) * ' and '.length);
    assert.equal(matches(f, { a: 1 }), true);
    assert.equal(matches(f, {}), false);
  });
});

describe('parseFilter: syntax errors', () => {
  const bad: Array<[string, string, RegExp?]> = [
    ['empty filter', '', /empty/i],
    ['blank filter', '   ', /empty/i],
    ['missing value', 'userName eq', /value/],
    ['unquoted string value', 'userName eq bjensen', /Unquoted value "bjensen" at position 12/],
    ['unknown operator', 'userName xx "a"', /Unknown operator "xx" at position 9/],
    ['missing operator', 'userName', /operator/],
    ['pr with a value', 'title pr "x"', /Unexpected/],
    ['unclosed parenthesis', '(userName eq "a"', /Missing "\)"/],
    ['extra closing parenthesis', 'userName eq "a")', /Unbalanced "\)" at position 15/],
    ['empty parentheses', '()', /Expected/],
    ['unclosed bracket', 'emails[type eq "work"', /Missing "\]"/],
    ['stray closing bracket', 'title pr]', /Unbalanced "\]"/],
    ['not without parentheses', 'not userName eq "a"', /"\(" after "not"/],
    ['not at end', 'not', /"\(" after "not"/],
    ['trailing junk', 'userName eq "a" foo', /Unexpected token "foo" at position 16/],
    ['trailing value', 'userName eq "a" "b"', /Unexpected/],
    ['dangling and', 'title pr and', /Expected/],
    ['leading or', 'or title pr', /operator/],
    ['sub-attribute after value filter', 'emails[type eq "work"].value eq "x"', /only allowed in PATCH paths/],
    ['nested value filter', 'emails[type[value pr]]', /Nested "\["/],
    ['value filter on a sub-attribute', 'name.givenName[value pr]', /Invalid attribute path/],
    ['unterminated string', 'userName eq "abc', /Unterminated string/],
    ['bad escape', 'userName eq "a\\qb"', /Invalid escape/],
    ['short unicode escape', 'userName eq "\\u12"', /Invalid escape/],
    ['raw control character in string', 'userName eq "a\nb"', /control character/],
    ['malformed number', 'n eq 12abc', /Invalid number/],
    ['leading zero', 'n eq 012', /Invalid number/],
    ['lone minus', 'n eq -', /Invalid number/],
    ['unexpected character', 'userName eq "a" & title pr', /Unexpected character "&" at position 16/],
    ['attribute starting with a digit', '1abc pr', /Invalid number/],
    ['colon without URN', 'foo:bar pr', /Invalid attribute path/],
    ['URN without attribute', `${ENTERPRISE}: pr`, /Invalid attribute path/],
    ['two dots', 'name.givenName.x pr', /Invalid attribute path/],
    ['empty sub-attribute', 'name. pr', /Invalid attribute path/],
  ];
  for (const [name, text, message] of bad) {
    test(`${name}: ${JSON.stringify(text)}`, () => assertSyntaxError(() => parseFilter(text), message));
  }

  test('10,000 nested parentheses throw FilterSyntaxError, not RangeError', () => {
    const n = 10_000;
    assertSyntaxError(() => parseFilter(`${'('.repeat(n)}a pr${')'.repeat(n)}`), /nested/);
    assertSyntaxError(() => parseFilter(`${'not ('.repeat(n)}a pr${')'.repeat(n)}`), /nested/);
    assertSyntaxError(() => parseFilter('('.repeat(n)), /nested/);
  });

  test('one level beyond the limit is rejected', () => {
    const depth = MAX_FILTER_DEPTH + 1;
    assertSyntaxError(() => parseFilter(`${'('.repeat(depth)}a pr${')'.repeat(depth)}`), /nested/);
  });

  test('errors carry the offending position', () => {
    try {
      parseFilter('userName eq bjensen');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof FilterSyntaxError);
      assert.equal(err.position, 12);
      assert.equal(err.name, 'FilterSyntaxError');
    }
  });

  test('huge tokens are truncated in messages', () => {
    assertSyntaxError(() => parseFilter(`userName eq ${'x'.repeat(100_000)}`), /^.{0,200}$/);
  });
});

describe('parsePatchPath (RFC 7644 §3.5.2)', () => {
  const work = cmp(p('type'), 'eq', 'work');
  const shapes: Array<[string, unknown]> = [
    ['members', { path: p('members') }],
    ['name.givenName', { path: p('name', 'givenName') }],
    ['emails[type eq "work"].value', { path: p('emails'), filter: work, sub: 'value' }],
    ['members[value eq "2819c223"]', { path: p('members'), filter: cmp(p('value'), 'eq', '2819c223') }],
    [`${ENTERPRISE}:department`, { path: p('department', undefined, ENTERPRISE) }],
    [`${ENTERPRISE}:manager.value`, { path: p('manager', 'value', ENTERPRISE) }],
    ['addresses[type eq "work"].locality', { path: p('addresses'), filter: work, sub: 'locality' }],
    [`${CORE_USER}:name.familyName`, { path: p('name', 'familyName', CORE_USER) }],
    ['members[value eq "x"].$ref', { path: p('members'), filter: cmp(p('value'), 'eq', 'x'), sub: '$ref' }],
    [
      'emails[type eq "work" and primary eq true].display',
      { path: p('emails'), filter: and(work, cmp(p('primary'), 'eq', true)), sub: 'display' },
    ],
    ['  name.givenName  ', { path: p('name', 'givenName') }],
  ];
  for (const [text, expected] of shapes) {
    test(text, () => assert.deepStrictEqual(parsePatchPath(text), expected));
  }

  const bad = [
    '',
    '   ',
    'emails[type eq "work"',
    'emails[type eq "work"]value',
    'emails[type eq "work"] .value',
    'emails[type eq "work"].value.display',
    'emails[type eq "work"].',
    'emails[]',
    'emails[type[value pr]]',
    'name.',
    'name.givenName.x',
    'emails value',
    '"emails"',
    'emails eq "x"',
    'foo:bar',
    `${ENTERPRISE}:`,
  ];
  for (const text of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => assertSyntaxError(() => parsePatchPath(text)));
  }
});

describe('formatFilter', () => {
  test('canonical form: lower-case operators, single spaces, minimal parentheses', () => {
    assert.equal(
      formatFilter(parseFilter('  UserName   EQ "a"  AND  ( title PR OR x Pr )  ')),
      'UserName eq "a" and (title pr or x pr)',
    );
    assert.equal(formatFilter(parseFilter('(a pr and b pr) or c pr')), 'a pr and b pr or c pr');
    assert.equal(formatFilter(parseFilter('(a pr or b pr) or c pr')), 'a pr or b pr or c pr');
    assert.equal(formatFilter(parseFilter('NOT ( a pr )')), 'not (a pr)');
    assert.equal(formatFilter(parseFilter('active eq TRUE and x eq NULL')), 'active eq true and x eq null');
    assert.equal(formatFilter(parseFilter('n eq 1.50E2')), 'n eq 150');
  });

  test('parentheses needed for tree shape are kept', () => {
    assert.equal(formatFilter(parseFilter('a pr and (b pr and c pr)')), 'a pr and (b pr and c pr)');
    assert.equal(formatFilter(parseFilter('a pr or (b pr or c pr)')), 'a pr or (b pr or c pr)');
    assert.equal(formatFilter(parseFilter('(a pr or b pr) and c pr')), '(a pr or b pr) and c pr');
  });

  test('strings are written as JSON', () => {
    assert.equal(formatFilter(cmp(p('x'), 'eq', 'a"b\\c\n')), 'x eq "a\\"b\\\\c\\n"');
  });

  test('URN paths and value filters', () => {
    const text = `${ENTERPRISE}:manager.value eq "1" or emails[type eq "work" and not (value ew ".org")]`;
    assert.equal(formatFilter(parseFilter(text)), text);
  });

  test('every RFC example round-trips', () => {
    const texts = [
      'userName eq "bjensen"',
      'name.familyName co "O\'Malley"',
      `${CORE_USER}:userName sw "J"`,
      'title pr or userType eq "Intern"',
      'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
      'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
    ];
    for (const text of texts) {
      assert.equal(formatFilter(parseFilter(text)), text);
      assert.deepStrictEqual(parseFilter(formatFilter(parseFilter(text))), parseFilter(text));
    }
  });

  test('property: parseFilter(formatFilter(f)) deep-equals f', () => {
    // parseFilter builds plain objects, which deepStrictEqual distinguishes from null-prototype ones.
    const NO_NULL_PROTO = { noNullPrototype: true };
    const name = fc.constantFrom('userName', 'emails', 'type', 'value', '$ref', 'x-y_1', 'Title');
    const path = fc.record(
      { uri: fc.constantFrom(ENTERPRISE, CORE_USER), attr: name, sub: name },
      { requiredKeys: ['attr'], noNullPrototype: true },
    );
    const simplePath = fc.record({ uri: fc.constantFrom(ENTERPRISE), attr: name }, { requiredKeys: ['attr'], noNullPrototype: true });
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
      fc.boolean(),
      fc.constant(null),
    );
    const op = fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le' as const);
    const leaf = fc.oneof(
      fc.record({ kind: fc.constant('compare' as const), path, op, value }, NO_NULL_PROTO),
      fc.record({ kind: fc.constant('present' as const), path }, NO_NULL_PROTO),
    );
    // Two tiers: value filters may not contain another value filter.
    const tree = (inner: fc.Arbitrary<Filter> | null) =>
      fc.letrec<{ f: Filter }>((tie) => ({
        f: fc.oneof(
          { maxDepth: 4 },
          leaf,
          ...(inner ? [fc.record({ kind: fc.constant('valuePath' as const), path: simplePath, filter: inner }, NO_NULL_PROTO)] : []),
          fc.record({ kind: fc.constant('not' as const), filter: tie('f') }, NO_NULL_PROTO),
          fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('f'), right: tie('f') }, NO_NULL_PROTO),
        ),
      })).f;
    const filter = tree(tree(null));
    fc.assert(
      fc.property(filter, (f) => {
        assert.deepStrictEqual(parseFilter(formatFilter(f)), f);
      }),
      { numRuns: 500 },
    );
  });

  test('non-finite numbers cannot be formatted', () => {
    assert.throws(() => formatFilter(cmp(p('n'), 'eq', Number.NaN)), RangeError);
  });
});

describe('matches (RFC 7644 §3.4.2.2 semantics)', () => {
  // Based on the full User representation of RFC 7643 §8.2.
  const user: Record<string, unknown> = {
    schemas: [CORE_USER, ENTERPRISE],
    id: '2819c223-7f76-453a-919d-413861904646',
    userName: 'bjensen@example.com',
    name: { formatted: 'Ms. Barbara J Jensen, III', familyName: "O'Malley", givenName: 'Barbara', middleName: null },
    displayName: 'Babs Jensen',
    nickName: '',
    title: 'Tour Guide',
    userType: 'Employee',
    active: true,
    loginCount: 42,
    emails: [
      { value: 'bjensen@example.com', type: 'work', primary: true },
      { value: 'babs@jensen.org', type: 'home' },
    ],
    ims: [{ value: 'someaimhandle', type: 'aim' }],
    phoneNumbers: [],
    x509Certificates: [{ value: null }],
    meta: {
      resourceType: 'User',
      created: '2010-01-23T04:56:22Z',
      lastModified: '2011-05-13T04:42:34Z',
    },
    [ENTERPRISE]: {
      employeeNumber: '701984',
      manager: { value: '26118915-6090-4610-87e4-49d8ca9f808d', displayName: 'John Smith' },
    },
  };
  const is = (text: string, expected: boolean, opts?: Parameters<typeof matches>[2]) =>
    assert.equal(matches(parseFilter(text), user, opts), expected, text);

  test('eq is case-insensitive for strings by default', () => {
    is('userName eq "BJensen@Example.com"', true);
    is('userName eq "bjensen"', false);
    is('userType eq "employee"', true);
  });

  test('attribute names are matched case-insensitively', () => {
    is('USERNAME eq "bjensen@example.com"', true);
    is('Name.FamilyName eq "o\'malley"', true);
    assert.equal(matches(parseFilter('userName eq "x"'), { UserName: 'X' }), true);
  });

  test('co / sw / ew', () => {
    is('name.familyName co "MALLEY"', true);
    is('userName sw "BJEN"', true);
    is('userName sw "jensen"', false);
    is('userName ew "@EXAMPLE.COM"', true);
    is('userName ew "example"', false);
    is('displayName co "s J"', true);
  });

  test('schema URN prefixes: core URN means top level, extension URN means the extension object', () => {
    is(`${CORE_USER}:userName sw "B"`, true);
    is(`${ENTERPRISE}:employeeNumber eq "701984"`, true);
    is(`${ENTERPRISE}:manager.value sw "26118915"`, true);
    is(`${ENTERPRISE}:manager.displayName eq "john smith"`, true);
    is(`${ENTERPRISE}:userName pr`, false);
  });

  test('multi-valued attributes match if any value matches', () => {
    is(`schemas eq "${ENTERPRISE}"`, true);
    is('emails.type eq "home"', true);
    is('emails.type eq "other"', false);
    is('emails.value co "jensen.org"', true);
    // Without a sub-attribute, a multi-valued complex attribute compares through its "value".
    is('emails co "jensen.org"', true);
    is('emails eq "BABS@jensen.org"', true);
    is('emails eq "home"', false);
  });

  test('RFC example filters against the sample user', () => {
    is('title pr and userType eq "Employee"', true);
    is('title pr or userType eq "Intern"', true);
    is('userType eq "Intern" or title pr', true);
    is('userType eq "Intern" and title pr', false);
    is('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', true);
    is('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', false);
    is('userType eq "Employee" and (emails.type eq "work")', true);
    is('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', true);
    is('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]', true);
  });

  test('value filters require one element to satisfy the whole inner filter', () => {
    is('emails[type eq "home" and value co "@jensen.org"]', true);
    // type "home" and value "@example.com" exist, but on different elements.
    is('emails[type eq "home" and value co "@example.com"]', false);
    // The flat form tests each condition independently, so it matches.
    is('emails.type eq "home" and emails.value co "@example.com"', true);
    is('emails[primary eq true]', true);
    is('emails[not (type eq "work")]', true);
    is('ims[type eq "xmpp"]', false);
    is('phoneNumbers[type pr]', false);
    is(`${ENTERPRISE}:manager[displayName sw "john"]`, true);
  });

  test('not negates', () => {
    is('not (userType eq "Employee")', false);
    is('not (userType eq "Intern")', true);
    is('not (not (title pr))', true);
  });

  test('pr: present, not null, not empty', () => {
    is('title pr', true);
    is('emails pr', true);
    is('name pr', true);
    is('emails.value pr', true);
    is(`${ENTERPRISE}:manager pr`, true);
    is('nickName pr', false);
    is('phoneNumbers pr', false);
    is('name.middleName pr', false);
    is('x509Certificates pr', false);
    is('noSuchAttribute pr', false);
    is('active pr', true);
  });

  test('dateTime comparison is by instant, independent of fractional digits and zone', () => {
    is('meta.lastModified eq "2011-05-13T04:42:34.000Z"', true);
    is('meta.lastModified eq "2011-05-13T04:42:34.0000000Z"', true);
    is('meta.lastModified eq "2011-05-13T06:42:34+02:00"', true);
    is('meta.lastModified ne "2011-05-13T04:42:34.000Z"', false);
    is('meta.lastModified gt "2011-05-13T04:42:33.999Z"', true);
    is('meta.lastModified gt "2011-05-13T04:42:34Z"', false);
    is('meta.lastModified ge "2011-05-13T04:42:34.000Z"', true);
    is('meta.lastModified lt "2011-05-13T04:42:34.0000001Z"', true);
    is('meta.lastModified lt "2011-05-13T04:42:34Z"', false);
    is('meta.lastModified le "2011-05-13T04:42:34Z"', true);
    is('meta.lastModified gt "2011-05-13T05:00:00+01:00"', true);
    is('meta.created lt "2011-05-13T04:42:34Z"', true);
  });

  test('a missing attribute fails every comparison except ne', () => {
    is('noSuchAttribute ne "x"', true);
    is('noSuchAttribute eq "x"', false);
    is('noSuchAttribute co "x"', false);
    is('noSuchAttribute gt "x"', false);
    is('not (noSuchAttribute eq "x")', true);
    is(`${ENTERPRISE}:costCenter ne "4130"`, true);
    is('name.middleName ne "x"', true);
  });

  test('eq null means "not present", ne null means "present"', () => {
    is('title eq null', false);
    is('title ne null', true);
    is('nickName eq null', true);
    is('name.middleName eq null', true);
    is('noSuchAttribute eq null', true);
    is('noSuchAttribute ne null', false);
  });

  test('booleans support eq / ne only', () => {
    is('active eq true', true);
    is('active eq false', false);
    is('active ne false', true);
    is('active gt false', false);
    is('active eq "true"', false);
    is('emails[primary eq true and type eq "work"]', true);
  });

  test('numbers compare numerically', () => {
    is('loginCount eq 42', true);
    is('loginCount eq 42.0', true);
    is('loginCount gt 9', true);
    is('loginCount le 41.5', false);
    is('loginCount eq "42"', false);
  });

  test('ordering on strings is lexicographic and case-folded unless caseExact', () => {
    is('displayName gt "babs a"', true);
    is('displayName lt "B"', false);
    is('displayName lt "b"', true, { caseExact: () => true });
    is('userName ge "BJENSEN@EXAMPLE.COM"', true);
  });

  test('caseExact option makes string comparison case-sensitive for the paths it selects', () => {
    const caseExact = (path: AttrPath) =>
      path.attr.toLowerCase() === 'id' || (path.attr === 'emails' && path.sub === 'value');
    is('id eq "2819C223-7F76-453A-919D-413861904646"', false, { caseExact });
    is('id eq "2819c223-7f76-453a-919d-413861904646"', true, { caseExact });
    is('userName eq "BJENSEN@example.com"', true, { caseExact });
    is('emails.value eq "BABS@jensen.org"', false, { caseExact });
    is('emails eq "BABS@jensen.org"', false, { caseExact });
    is('emails[value eq "BABS@jensen.org"]', false, { caseExact });
    is('emails[value eq "babs@jensen.org"]', true, { caseExact });
    is('emails[type eq "HOME"]', true, { caseExact });
  });

  test('caseExact receives the full path of the compared attribute', () => {
    const pathsSeen = (text: string): AttrPath[] => {
      const seen: AttrPath[] = [];
      matches(parseFilter(text), user, { caseExact: (path) => (seen.push(path), false) });
      return seen;
    };
    assert.deepStrictEqual(pathsSeen('userName eq "x"'), [p('userName')]);
    assert.deepStrictEqual(pathsSeen('emails.type eq "x"'), [p('emails', 'type'), p('emails', 'type')]);
    // Implicit "value" sub-attribute of a multi-valued complex attribute.
    assert.deepStrictEqual(pathsSeen('emails eq "x"'), [p('emails', 'value'), p('emails', 'value')]);
    // Inside a value filter, the inner name is the sub-attribute of the outer attribute.
    assert.deepStrictEqual(pathsSeen('ims[type eq "x"]'), [p('ims', 'type')]);
    assert.deepStrictEqual(
      pathsSeen(`${ENTERPRISE}:manager[value eq "x"]`),
      [p('manager', 'value', ENTERPRISE)],
    );
    assert.deepStrictEqual(
      pathsSeen(`${ENTERPRISE}:employeeNumber eq "x"`),
      [p('employeeNumber', undefined, ENTERPRISE)],
    );
  });
});
