/**
 * SCIM filter expressions and PATCH paths (RFC 7644 §3.4.2.2 and §3.5.2).
 *
 * Pure module: parsing, canonical formatting and in-memory evaluation. No I/O.
 *
 * Hostile-input guarantees: tokenising and parsing are linear in the input
 * length, parenthesis/bracket nesting is capped at {@link MAX_FILTER_DEPTH}
 * (a {@link FilterSyntaxError}, never a stack overflow), and long `and`/`or`
 * chains are walked iteratively by {@link formatFilter} and {@link matches}.
 */

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/** Attribute comparison operators (RFC 7644 §3.4.2.2, table 3). `pr` is modelled as its own node kind. */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/**
 * An attribute path as written by the client (RFC 7644 §3.4.2.2 `attrPath`):
 * `[URI ":"] ATTRNAME [ "." subAttr ]`. Names are NOT canonicalised; case is preserved.
 */
export interface AttrPath {
  /** Schema URN prefix, e.g. `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`. */
  uri?: string;
  attr: string;
  sub?: string;
}

/** A comparison value (RFC 7644 §3.4.2.2 `compValue`): JSON string, number, boolean or null. */
export type FilterValue = string | number | boolean | null;

/** Filter AST. `and`/`or` chains are left-associative (left-deep), as in the RFC grammar. */
export type Filter =
  | { kind: 'compare'; path: AttrPath; op: CompareOp; value: FilterValue }
  | { kind: 'present'; path: AttrPath }
  | { kind: 'and' | 'or'; left: Filter; right: Filter }
  | { kind: 'not'; filter: Filter }
  /** emails[type eq "work" and value co "x"] — inner filter paths are relative to the complex attribute's sub-attributes */
  | { kind: 'valuePath'; path: AttrPath; filter: Filter };

/** A logical (`and` / `or`) node. */
export type LogicalFilter = Extract<Filter, { kind: 'and' | 'or' }>;

/** A value-path node, e.g. `emails[type eq "work"]`. */
export type ValuePathFilter = Extract<Filter, { kind: 'valuePath' }>;

/**
 * Thrown for any malformed filter or PATCH path. The message is a short sentence
 * naming what went wrong and where (0-based character offset, like `JSON.parse`).
 * Callers map it to a SCIM `400 invalidFilter` / `invalidPath` error (RFC 7644 §3.12).
 */
export class FilterSyntaxError extends Error {
  /** 0-based offset into the input, when the error is tied to a location. */
  readonly position?: number;

  constructor(message: string, position?: number) {
    super(message);
    this.name = 'FilterSyntaxError';
    this.position = position;
  }
}

/**
 * A PATCH operation path (RFC 7644 §3.5.2): `attrPath / valuePath [ "." subAttr ]`.
 *
 * - `name.givenName` → `{ path: { attr: 'name', sub: 'givenName' } }`
 * - `emails[type eq "work"].value` → `{ path: { attr: 'emails' }, filter, sub: 'value' }`
 */
export interface PatchPath {
  path: AttrPath;
  filter?: Filter;
  sub?: string;
}

/** Options for {@link matches}. */
export interface EvalOptions {
  /** true when the attribute's values compare case-sensitively (RFC 7643 caseExact). Called with the full path (uri, attr, sub) of the attribute being compared. Default: false for every attribute. */
  caseExact?: (path: AttrPath) => boolean;
}

/** Maximum nesting of parentheses and value-path brackets accepted by the parser. */
export const MAX_FILTER_DEPTH = 64;

// ---------------------------------------------------------------------------
// Tokeniser
// ---------------------------------------------------------------------------

type TokenType = '(' | ')' | '[' | ']' | 'word' | 'string' | 'number' | 'eof';

interface Token {
  type: TokenType;
  /** 0-based offset of the token's first character. */
  pos: number;
  /** Raw source text of the token (used for keywords, paths and error messages). */
  text: string;
  /** Decoded value for `string` and `number` tokens. */
  value?: string | number;
}

/** JSON number grammar (RFC 8259 §6), anchored at the lexer position via the sticky flag. */
const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/**
 * Characters of a "word": attribute paths, operators and keywords. Includes the URN
 * characters `:` and `.`, `$` for `$ref`, and `-`/`_` from `nameChar`. A leading `.`
 * is accepted only so that `].value` can be lexed for PATCH paths.
 */
function isWordChar(ch: string): boolean {
  return /[A-Za-z0-9:._$-]/.test(ch);
}

function isWordStart(ch: string): boolean {
  return /[A-Za-z$.]/.test(ch);
}

function isSpace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
}

/** Characters that may legitimately follow a number (anything else, e.g. `12abc`, is an error). */
function isDelimiter(ch: string | undefined): boolean {
  return ch === undefined || isSpace(ch) || ch === ')' || ch === ']';
}

function quote(text: string): string {
  // Keep messages short even when the offending token is huge.
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(shown);
}

function describe(tok: Token): string {
  return tok.type === 'eof' ? 'end of input' : quote(tok.text);
}

/** Splits the input into tokens in a single linear pass. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (isSpace(ch)) {
      i++;
    } else if (ch === '(' || ch === ')' || ch === '[' || ch === ']') {
      tokens.push({ type: ch, pos: i, text: ch });
      i++;
    } else if (ch === '"') {
      const { value, end } = lexString(text, i);
      tokens.push({ type: 'string', pos: i, text: text.slice(i, end), value });
      i = end;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      const tok = lexNumber(text, i);
      tokens.push(tok);
      i += tok.text.length;
    } else if (isWordStart(ch)) {
      let end = i + 1;
      while (end < text.length && isWordChar(text[end])) end++;
      tokens.push({ type: 'word', pos: i, text: text.slice(i, end) });
      i = end;
    } else {
      throw new FilterSyntaxError(`Unexpected character ${quote(ch)} at position ${i}`, i);
    }
  }
  tokens.push({ type: 'eof', pos: text.length, text: '' });
  return tokens;
}

function lexNumber(text: string, start: number): Token {
  NUMBER_RE.lastIndex = start;
  const m = NUMBER_RE.exec(text);
  const end = m ? start + m[0].length : start;
  if (!m || !isDelimiter(text[end])) {
    let stop = end;
    while (stop < text.length && !isDelimiter(text[stop])) stop++;
    throw new FilterSyntaxError(`Invalid number ${quote(text.slice(start, stop))} at position ${start}`, start);
  }
  return { type: 'number', pos: start, text: m[0], value: Number(m[0]) };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t',
};

/** Decodes a JSON string literal (RFC 8259 §7) starting at the opening quote. */
function lexString(text: string, start: number): { value: string; end: number } {
  const parts: string[] = [];
  let chunk = start + 1;
  let i = chunk;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code === 0x22 /* " */) {
      parts.push(text.slice(chunk, i));
      return { value: parts.join(''), end: i + 1 };
    }
    if (code === 0x5c /* \ */) {
      parts.push(text.slice(chunk, i));
      const { decoded, length } = decodeEscape(text, i);
      parts.push(decoded);
      i += length;
      chunk = i;
    } else if (code < 0x20) {
      throw new FilterSyntaxError(`Unescaped control character in string at position ${i}`, i);
    } else {
      i++;
    }
  }
  throw new FilterSyntaxError(`Unterminated string starting at position ${start}`, start);
}

function decodeEscape(text: string, at: number): { decoded: string; length: number } {
  const esc = text[at + 1];
  if (esc !== undefined && Object.hasOwn(SIMPLE_ESCAPES, esc)) {
    return { decoded: SIMPLE_ESCAPES[esc], length: 2 };
  }
  if (esc === 'u') {
    const hex = text.slice(at + 2, at + 6);
    // Surrogate halves are decoded one at a time; a \uD83D\uDE00 pair joins up naturally.
    if (/^[0-9A-Fa-f]{4}$/.test(hex)) return { decoded: String.fromCharCode(parseInt(hex, 16)), length: 6 };
  }
  const shown = text.slice(at, esc === 'u' ? at + 6 : at + 2);
  throw new FilterSyntaxError(`Invalid escape ${quote(shown)} in string at position ${at}`, at);
}

// ---------------------------------------------------------------------------
// Attribute paths
// ---------------------------------------------------------------------------

/** ATTRNAME = ALPHA *(nameChar); `$ref` is also a valid (sub-)attribute name (RFC 7643 §2.1). */
const NAME_RE = /^(?:\$ref|[A-Za-z][A-Za-z0-9_-]*)$/;
/** Colon-separated URN with non-empty segments. Segments cannot contain ':' so matching is linear. */
const URN_RE = /^urn:[A-Za-z0-9][A-Za-z0-9._-]*(?::[A-Za-z0-9._-]+)*$/i;

function isName(text: string): boolean {
  return NAME_RE.test(text);
}

/**
 * Splits a path word into {uri, attr, sub}. URNs contain dots ("2.0"), so the URN is
 * split off at the LAST colon first and only then is the remainder split on a dot.
 */
function toAttrPath(tok: Token): AttrPath {
  const text = tok.text;
  let uri: string | undefined;
  let rest = text;
  if (/^urn:/i.test(text)) {
    const colon = text.lastIndexOf(':');
    uri = text.slice(0, colon);
    rest = text.slice(colon + 1);
    if (!URN_RE.test(uri)) throw invalidPath(tok);
  }
  const dot = rest.indexOf('.');
  const attr = dot < 0 ? rest : rest.slice(0, dot);
  const sub = dot < 0 ? undefined : rest.slice(dot + 1);
  if (!isName(attr) || (sub !== undefined && !isName(sub))) throw invalidPath(tok);
  return makePath(uri, attr, sub);
}

/** Builds an AttrPath without `undefined`-valued keys, so ASTs compare cleanly with deepStrictEqual. */
function makePath(uri: string | undefined, attr: string, sub: string | undefined): AttrPath {
  const path: AttrPath = { attr };
  if (uri !== undefined) path.uri = uri;
  if (sub !== undefined) path.sub = sub;
  return path;
}

function invalidPath(tok: Token): FilterSyntaxError {
  return new FilterSyntaxError(`Invalid attribute path ${quote(tok.text)} at position ${tok.pos}`, tok.pos);
}

/** Formats an attribute path as `[uri:]attr[.sub]`. */
export function formatAttrPath(path: AttrPath): string {
  const prefix = path.uri !== undefined ? `${path.uri}:` : '';
  const suffix = path.sub !== undefined ? `.${path.sub}` : '';
  return `${prefix}${path.attr}${suffix}`;
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

const COMPARE_OPS: ReadonlySet<string> = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);

/**
 * Recursive-descent parser for RFC 7644 §3.4.2.2. Precedence: `not` > `and` > `or`;
 * `and`/`or` chains are parsed with loops (left-associative, no recursion per operand),
 * and recursion only happens on `(` / `[`, which is capped at MAX_FILTER_DEPTH.
 */
class Parser {
  private index = 0;
  private depth = 0;
  private inValuePath = false;

  constructor(private readonly tokens: Token[]) {}

  /** filter EOF */
  parseFilter(): Filter {
    if (this.peek().type === 'eof') throw new FilterSyntaxError('Filter is empty', 0);
    const filter = this.parseOr();
    this.expectEnd();
    return filter;
  }

  /** (attrPath | valuePath ["." subAttr]) EOF */
  parsePatchPath(): PatchPath {
    const first = this.next();
    if (first.type === 'eof') throw new FilterSyntaxError('Path is empty', 0);
    if (first.type !== 'word') throw this.expected('an attribute path', first);
    const path = toAttrPath(first);
    if (this.peek().type !== '[') {
      this.expectEnd();
      return { path };
    }
    const valuePath = this.parseValuePath(path, this.next());
    const result: PatchPath = { path, filter: valuePath.filter };
    const close = this.tokens[this.index - 1];
    const after = this.peek();
    // `].sub` must be written without spaces, like the rest of a path.
    if (after.type === 'word' && after.text.startsWith('.') && after.pos === close.pos + 1) {
      this.next();
      const sub = after.text.slice(1);
      if (!isName(sub)) throw invalidPath(after);
      result.sub = sub;
    }
    this.expectEnd();
    return result;
  }

  private parseOr(): Filter {
    let left = this.parseAnd();
    while (this.atKeyword('or')) {
      this.next();
      left = { kind: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  private parseAnd(): Filter {
    let left = this.parseUnary();
    while (this.atKeyword('and')) {
      this.next();
      left = { kind: 'and', left, right: this.parseUnary() };
    }
    return left;
  }

  /** `not "(" filter ")"` | `"(" filter ")"` | attrExp | valuePath */
  private parseUnary(): Filter {
    const tok = this.next();
    if (tok.type === '(') return this.parseGroup(tok);
    if (tok.type !== 'word') throw this.expected('an attribute path, "(" or "not"', tok);
    if (tok.text.toLowerCase() === 'not') {
      // RFC 7644 only allows `not` before a parenthesised filter.
      const open = this.next();
      if (open.type !== '(') throw this.expected('"(" after "not"', open);
      return { kind: 'not', filter: this.parseGroup(open) };
    }
    return this.parseAttrExp(tok);
  }

  private parseGroup(open: Token): Filter {
    this.enter(open);
    const filter = this.parseOr();
    this.expectClose(')', open);
    this.depth--;
    return filter;
  }

  private parseAttrExp(pathTok: Token): Filter {
    const path = toAttrPath(pathTok);
    const opTok = this.next();
    if (opTok.type === '[') return this.parseFilterValuePath(path, pathTok, opTok);
    if (opTok.type !== 'word') throw this.expected(`an operator after ${quote(pathTok.text)}`, opTok);
    const op = opTok.text.toLowerCase();
    if (op === 'pr') return { kind: 'present', path };
    if (!COMPARE_OPS.has(op)) {
      throw new FilterSyntaxError(`Unknown operator ${quote(opTok.text)} at position ${opTok.pos}`, opTok.pos);
    }
    return { kind: 'compare', path, op: op as CompareOp, value: this.parseValue(opTok) };
  }

  /** compValue = false / null / true / number / string (RFC 7644 §3.4.2.2). */
  private parseValue(opTok: Token): FilterValue {
    const tok = this.next();
    if (tok.type === 'string' || tok.type === 'number') return tok.value as string | number;
    if (tok.type === 'word') {
      const word = tok.text.toLowerCase();
      if (word === 'true') return true;
      if (word === 'false') return false;
      if (word === 'null') return null;
      throw new FilterSyntaxError(
        `Unquoted value ${quote(tok.text)} at position ${tok.pos}; strings must be in double quotes`,
        tok.pos,
      );
    }
    throw this.expected(`a value after ${quote(opTok.text)}`, tok);
  }

  /** A valuePath inside a filter: no nesting, and no `.sub` after the closing bracket. */
  private parseFilterValuePath(path: AttrPath, pathTok: Token, open: Token): Filter {
    if (this.inValuePath) {
      throw new FilterSyntaxError(`Nested "[" at position ${open.pos}; value filters cannot be nested`, open.pos);
    }
    if (path.sub !== undefined) throw invalidPath(pathTok);
    const result = this.parseValuePath(path, open);
    const after = this.peek();
    if (after.type === 'word' && after.text.startsWith('.')) {
      throw new FilterSyntaxError(
        `Unexpected ${quote(after.text)} at position ${after.pos}; a sub-attribute after "]" is only allowed in PATCH paths`,
        after.pos,
      );
    }
    return result;
  }

  /** "[" valFilter "]" — the opening bracket has already been consumed. */
  private parseValuePath(path: AttrPath, open: Token): ValuePathFilter {
    this.enter(open);
    this.inValuePath = true;
    const filter = this.parseOr();
    this.expectClose(']', open);
    this.inValuePath = false;
    this.depth--;
    return { kind: 'valuePath', path, filter };
  }

  private enter(open: Token): void {
    if (++this.depth > MAX_FILTER_DEPTH) {
      throw new FilterSyntaxError(
        `Filter is nested more than ${MAX_FILTER_DEPTH} levels deep at position ${open.pos}`,
        open.pos,
      );
    }
  }

  private expectClose(type: ')' | ']', open: Token): void {
    const tok = this.next();
    if (tok.type === type) return;
    if (tok.type === 'eof') {
      throw new FilterSyntaxError(`Missing "${type}" to close "${open.text}" at position ${open.pos}`, open.pos);
    }
    throw this.expected(`"${type}"`, tok);
  }

  private expectEnd(): void {
    const tok = this.peek();
    if (tok.type === 'eof') return;
    if (tok.type === ')' || tok.type === ']') {
      throw new FilterSyntaxError(`Unbalanced "${tok.text}" at position ${tok.pos}`, tok.pos);
    }
    throw new FilterSyntaxError(`Unexpected token ${describe(tok)} at position ${tok.pos}`, tok.pos);
  }

  private expected(what: string, found: Token): FilterSyntaxError {
    return new FilterSyntaxError(`Expected ${what} at position ${found.pos}, found ${describe(found)}`, found.pos);
  }

  private atKeyword(keyword: string): boolean {
    const tok = this.peek();
    return tok.type === 'word' && tok.text.length === keyword.length && tok.text.toLowerCase() === keyword;
  }

  private peek(): Token {
    return this.tokens[this.index];
  }

  private next(): Token {
    const tok = this.tokens[this.index];
    // The trailing eof token is sticky: reading past the end keeps returning it.
    if (tok.type !== 'eof') this.index++;
    return tok;
  }
}

/**
 * Parses a SCIM filter (RFC 7644 §3.4.2.2), e.g.
 * `userType eq "Employee" and emails[type eq "work" and value co "@example.com"]`.
 *
 * Operators and `and`/`or`/`not` are case-insensitive; attribute names are kept as written.
 * Numbers are parsed with `Number()`, so integers beyond 2^53 lose precision.
 *
 * @throws FilterSyntaxError on any grammar violation or nesting deeper than {@link MAX_FILTER_DEPTH}.
 */
export function parseFilter(text: string): Filter {
  return new Parser(tokenize(text)).parseFilter();
}

/**
 * Parses a PATCH operation `path` (RFC 7644 §3.5.2):
 * `attrPath / valuePath [ "." subAttr ]`, e.g. `emails[type eq "work"].value`.
 *
 * @throws FilterSyntaxError when empty or malformed.
 */
export function parsePatchPath(text: string): PatchPath {
  return new Parser(tokenize(text)).parsePatchPath();
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

/**
 * The operands of a left-deep `and`/`or` chain, in source order: `a and b and c` → [a, b, c].
 * Walks the left spine iteratively, so arbitrarily long chains never recurse.
 * A right operand of the same kind (from explicit parentheses) is returned as one operand.
 */
export function logicalOperands(filter: LogicalFilter): Filter[] {
  const rights: Filter[] = [];
  let node: Filter = filter;
  while (node.kind === filter.kind) {
    const logical = node as LogicalFilter;
    rights.push(logical.right);
    node = logical.left;
  }
  rights.push(node);
  return rights.reverse();
}

/**
 * Formats a filter as canonical text: lower-case operators, single spaces, JSON values and
 * only the parentheses needed to preserve the tree shape. `parseFilter(formatFilter(f))`
 * yields a tree deep-equal to `f` for any tree produced by {@link parseFilter}.
 */
export function formatFilter(f: Filter): string {
  switch (f.kind) {
    case 'compare':
      return `${formatAttrPath(f.path)} ${f.op} ${formatValue(f.value)}`;
    case 'present':
      return `${formatAttrPath(f.path)} pr`;
    case 'not':
      return `not (${formatFilter(f.filter)})`;
    case 'valuePath':
      return `${formatAttrPath(f.path)}[${formatFilter(f.filter)}]`;
    case 'and':
    case 'or':
      return logicalOperands(f)
        .map((operand, i) => (needsParens(f.kind, operand, i === 0) ? `(${formatFilter(operand)})` : formatFilter(operand)))
        .join(` ${f.kind} `);
  }
}

/** `or` binds looser than `and`; a same-kind right operand needs parentheses to stay on the right. */
function needsParens(parent: 'and' | 'or', operand: Filter, isFirst: boolean): boolean {
  if (operand.kind === 'or') return parent === 'and' || !isFirst;
  if (operand.kind === 'and') return parent === 'and' && !isFirst;
  return false;
}

function formatValue(value: FilterValue): string {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new RangeError(`Cannot format non-finite number ${value} in a filter`);
  }
  // JSON.stringify gives valid JSON strings (escaping quotes, backslashes, control
  // characters and lone surrogates) and JSON number syntax the tokeniser accepts.
  return JSON.stringify(value);
}

// ---------------------------------------------------------------------------
// In-memory evaluation
// ---------------------------------------------------------------------------

/** Where paths are resolved: the resource, or one element of a multi-valued attribute inside `[...]`. */
interface Scope {
  base: Record<string, unknown>;
  /** Set inside a valuePath: the complex attribute whose element `base` is. */
  parent?: AttrPath;
}

/** A candidate value for comparison, with the full path used for the caseExact lookup. */
interface Candidate {
  value: unknown;
  path: AttrPath;
}

const CORE_SCHEMA_PREFIX = 'urn:ietf:params:scim:schemas:core:2.0:';

/**
 * Evaluates a filter against a JSON resource with RFC 7644 §3.4.2.2 semantics:
 * case-insensitive attribute names, any-element matching for multi-valued attributes,
 * case-insensitive string comparison unless `caseExact`, dateTime-aware ordering,
 * and a missing attribute failing every comparison except `ne`.
 */
export function matches(filter: Filter, resource: Record<string, unknown>, opts: EvalOptions = {}): boolean {
  return evaluate(filter, { base: resource }, opts);
}

function evaluate(f: Filter, scope: Scope, opts: EvalOptions): boolean {
  switch (f.kind) {
    case 'compare':
      return evalCompare(f.path, f.op, f.value, scope, opts);
    case 'present':
      return resolve(f.path, scope).some(isPresent);
    case 'not':
      return !evaluate(f.filter, scope, opts);
    case 'and':
      return logicalOperands(f).every((operand) => evaluate(operand, scope, opts));
    case 'or':
      return logicalOperands(f).some((operand) => evaluate(operand, scope, opts));
    case 'valuePath':
      return evalValuePath(f.path, f.filter, scope, opts);
  }
}

function evalValuePath(path: AttrPath, inner: Filter, scope: Scope, opts: EvalOptions): boolean {
  const parent = makePath(path.uri, path.attr, path.sub);
  return resolve(path, scope)
    .filter(isObject)
    .some((element) => evaluate(inner, { base: element, parent }, opts));
}

function evalCompare(path: AttrPath, op: CompareOp, expected: FilterValue, scope: Scope, opts: EvalOptions): boolean {
  // `attr eq null` reads as "attr is not present" and `ne null` as "attr is present".
  if (expected === null) {
    if (op === 'eq') return !resolve(path, scope).some(isPresent);
    if (op === 'ne') return resolve(path, scope).some(isPresent);
    return false;
  }
  const candidates = compareCandidates(path, scope);
  if (candidates.length === 0) return op === 'ne';
  return candidates.some((c) => compareScalar(c.value, op, expected, opts.caseExact?.(c.path) ?? false));
}

/**
 * Values a comparison looks at. Without a sub-attribute, elements of a multi-valued complex
 * attribute are compared through their `value` sub-attribute (`emails co "x"` ≡ `emails.value co "x"`).
 */
function compareCandidates(path: AttrPath, scope: Scope): Candidate[] {
  const full = fullPath(path, scope);
  const candidates: Candidate[] = [];
  for (const value of resolve(path, scope)) {
    if (path.sub === undefined && isObject(value)) {
      candidates.push({ value: getCI(value, 'value'), path: { ...full, sub: 'value' } });
    } else {
      candidates.push({ value, path: full });
    }
  }
  return candidates.filter((c) => c.value !== null && c.value !== undefined);
}

/** The path as the schema knows it: inside `emails[...]`, `type` is `emails.type`. */
function fullPath(path: AttrPath, scope: Scope): AttrPath {
  if (!scope.parent) return path;
  return makePath(scope.parent.uri, scope.parent.attr, path.attr);
}

/**
 * All values at `path`, with multi-valued attributes expanded into their elements.
 * `emails.value` yields the `value` of every element of `emails`.
 */
function resolve(path: AttrPath, scope: Scope): unknown[] {
  const container = scope.parent ? scope.base : rootFor(path.uri, scope.base);
  const values = asList(container ? getCI(container, path.attr) : undefined);
  if (path.sub === undefined) return values;
  const sub = path.sub;
  return values.flatMap((element) => (isObject(element) ? asList(getCI(element, sub)) : []));
}

/**
 * A schema URN prefix selects the extension object `resource[uri]`, except for core schema
 * URNs, whose attributes live at the top level of the resource (RFC 7643 §3).
 */
function rootFor(uri: string | undefined, resource: Record<string, unknown>): Record<string, unknown> | undefined {
  if (uri === undefined || uri.toLowerCase().startsWith(CORE_SCHEMA_PREFIX)) return resource;
  const extension = getCI(resource, uri);
  return isObject(extension) ? extension : undefined;
}

/** Own-property lookup with case-insensitive names (RFC 7643 §2.1: attribute names are case-insensitive). */
function getCI(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) {
    if (key.toLowerCase() === lower) return obj[key];
  }
  return undefined;
}

function asList(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `pr`: not null, not "", not [], and not a complex value whose sub-attributes are all null. */
function isPresent(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  if (Array.isArray(value)) return value.some((element) => !Array.isArray(element) && isPresent(element));
  if (isObject(value)) return Object.values(value).some((v) => v !== null && v !== undefined);
  return true;
}

function compareScalar(actual: unknown, op: CompareOp, expected: string | number | boolean, caseExact: boolean): boolean {
  if (op === 'ne') return !compareScalar(actual, 'eq', expected, caseExact);
  if (typeof expected === 'string') {
    return typeof actual === 'string' && compareStrings(actual, op, expected, caseExact);
  }
  if (typeof expected === 'number') {
    if (typeof actual !== 'number' || op === 'co' || op === 'sw' || op === 'ew') return false;
    return ordered(actual === expected ? 0 : actual < expected ? -1 : 1, op);
  }
  // Booleans support only equality; ordering and substring operators never match.
  return op === 'eq' && actual === expected;
}

function compareStrings(actual: string, op: CompareOp, expected: string, caseExact: boolean): boolean {
  if (op === 'eq' || op === 'gt' || op === 'ge' || op === 'lt' || op === 'le') {
    const a = parseDateTime(actual);
    const b = a && parseDateTime(expected);
    if (a && b) return ordered(compareInstants(a, b), op);
  }
  const x = caseExact ? actual : actual.toLowerCase();
  const y = caseExact ? expected : expected.toLowerCase();
  switch (op) {
    case 'co':
      return x.includes(y);
    case 'sw':
      return x.startsWith(y);
    case 'ew':
      return x.endsWith(y);
    default:
      return ordered(x === y ? 0 : x < y ? -1 : 1, op);
  }
}

/** Applies an ordering operator to a three-way comparison result. */
function ordered(cmp: number, op: CompareOp): boolean {
  switch (op) {
    case 'eq':
      return cmp === 0;
    case 'gt':
      return cmp > 0;
    case 'ge':
      return cmp >= 0;
    case 'lt':
      return cmp < 0;
    case 'le':
      return cmp <= 0;
    default:
      return false;
  }
}

/** An instant split into whole UTC seconds and the fractional digits (trailing zeros removed). */
interface Instant {
  seconds: number;
  fraction: string;
}

/** xsd:dateTime as used by SCIM (RFC 7643 §2.3.5). A missing zone is read as UTC. */
const DATE_TIME_RE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?$/;

/**
 * Parses a dateTime exactly, keeping fractional seconds as digits so that `…34Z`, `…34.000Z`
 * and seven-digit fractions compare correctly (Date.parse would round to milliseconds).
 */
function parseDateTime(text: string): Instant | undefined {
  const m = DATE_TIME_RE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(0);
  // setUTCFullYear avoids Date.UTC's mapping of years 0–99 to 1900–1999.
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  const offsetMinutes = zoneOffsetMinutes(m[8]);
  const seconds = date.getTime() / 1000 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  return { seconds, fraction: (m[7] ?? '').replace(/0+$/, '') };
}

function zoneOffsetMinutes(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0;
  const sign = zone[0] === '-' ? -1 : 1;
  return sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
}

function compareInstants(a: Instant, b: Instant): number {
  if (a.seconds !== b.seconds) return a.seconds < b.seconds ? -1 : 1;
  // Equal-length digit strings compare numerically when compared as strings.
  const width = Math.max(a.fraction.length, b.fraction.length);
  const fa = a.fraction.padEnd(width, '0');
  const fb = b.fraction.padEnd(width, '0');
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}
