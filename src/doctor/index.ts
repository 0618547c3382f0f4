/**
 * plumm-scim doctor: checks a deployed SCIM endpoint from the outside, with the
 * requests Okta and Microsoft Entra ID make to connect, import and (with
 * `write`) provision, and explains every failure in plain words.
 */
import { randomBytes } from 'node:crypto';
import { DoctorHttp, type Exchange } from './http.js';
import { type Finding, OKTA_TIMEOUT_MS, diagnoseHttp, diagnoseTransport, listResponseProblems, parseJson } from './diagnose.js';

export { formatReport } from './format.js';
export { detectFirewall, listResponseProblems, parseRetryAfter } from './diagnose.js';

export interface DoctorOptions {
  baseUrl: string;
  token: string;
  write?: boolean;
  /** How long to wait for one answer; default 60000 (Okta's limit). */
  timeoutMs?: number;
  /** Answers slower than this are a warning; default 5000. */
  slowMs?: number;
}

export interface CheckResult {
  name: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  latencyMs?: number;
  diagnosis?: string;
  fix?: string;
  details?: Record<string, unknown>;
}

export interface DoctorReport {
  baseUrl: string;
  ok: boolean;
  checks: CheckResult[];
}

const SCIM_SUFFIX = /\/scim\/v2$/i;
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

/**
 * Transport errors after which further requests would only repeat the same
 * failure (a timeout included: waiting 60 s per check helps nobody).
 */
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|CONNECT_TIMEOUT|EHOSTUNREACH|ENETUNREACH|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|UNABLE_TO_GET_ISSUER_CERT|CERT_REVOKED|CERT_UNTRUSTED|HOSTNAME_MISMATCH|ERR_SSL_.*|EPROTO|TIMEOUT)$/;

/** Removes trailing slashes, query and fragment; keeps user info out of reports. */
export function normaliseBaseUrl(raw: string): URL {
  const trimmed = raw.trim();
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the base URL must start with https:// (or http://), not ${url.protocol}//`);
  url.search = '';
  url.hash = '';
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url;
}

function display(url: URL): string {
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href.replace(/\/+$/, '');
}

function random(n = 8): string {
  return randomBytes(n).toString('hex');
}

/** Replaces every occurrence of the token in strings anywhere in a value. */
function redact<T>(value: T, secrets: string[]): T {
  // Too short a string is no real token, and scrubbing it would mangle ordinary words.
  const live = secrets.filter((s) => s.length >= 12);
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') return live.reduce((s, secret) => s.split(secret).join('[redacted]'), v);
    if (Array.isArray(v)) return v.map(scrub);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
    return v;
  };
  return scrub(value) as T;
}

interface Step {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  expect: number[];
  /** Checks on a successful JSON body; strings are failures. */
  verify?: (body: unknown, ex: Exchange) => { fail?: string[]; warn?: string[]; details?: Record<string, unknown> } | void;
}

function readable(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

class Runner {
  readonly checks: CheckResult[] = [];
  unreachable?: CheckResult;

  constructor(
    readonly http: DoctorHttp,
    readonly timeoutMs: number,
    readonly slowMs: number,
  ) {}

  skip(name: string, why: string): CheckResult {
    const c: CheckResult = { name, status: 'skip', diagnosis: why };
    this.checks.push(c);
    return c;
  }

  /** Runs one request and records its check; returns the exchange and parsed body when it passed (or only warned). */
  async run(step: Step): Promise<{ ok: boolean; body?: unknown; ex?: Exchange; check: CheckResult }> {
    if (this.unreachable) return { ok: false, check: this.skip(step.name, `Not run: "${this.unreachable.name}" got no answer from the server (see above).`) };
    const ex = await this.http.send(step.method, step.path, step.body);
    const check: CheckResult = { name: step.name, status: 'pass', latencyMs: ex.latencyMs, details: { request: `${step.method} ${readable(step.path)}` } };
    this.checks.push(check);
    const apply = (f: Finding) => {
      check.status = f.status;
      check.diagnosis = f.diagnosis;
      check.fix = f.fix;
      check.details = { ...check.details, ...f.details };
    };
    if (ex.error) {
      apply(diagnoseTransport(ex, this.timeoutMs));
      if (UNREACHABLE.test(ex.error.code)) this.unreachable = check;
      return { ok: false, ex, check };
    }
    check.details!.httpStatus = ex.status;
    const http = diagnoseHttp(ex, step.expect);
    if (http) {
      apply(http);
      return { ok: false, ex, check };
    }
    const parsed = ex.status === 204 ? undefined : parseJson(ex.text);
    const body = parsed && parsed.ok ? parsed.value : undefined;
    const verdict = step.verify?.(body, ex) ?? {};
    if (verdict.details) check.details = { ...check.details, ...verdict.details };
    if (verdict.fail?.length) {
      apply({
        status: 'fail',
        diagnosis: `The answer is not what identity providers expect: ${verdict.fail.join('; ')}.`,
        fix: 'This is a bug in the SCIM server (or something rewriting its answers); report it to Plumm support with this output.',
      });
      return { ok: false, body, ex, check };
    }
    if (verdict.warn?.length) {
      apply({ status: 'warn', diagnosis: `Works, but: ${verdict.warn.join('; ')}.` });
    }
    this.slow(check, ex.latencyMs);
    return { ok: true, body, ex, check };
  }

  private slow(check: CheckResult, ms: number): void {
    if (ms <= this.slowMs) return;
    const half = ms > OKTA_TIMEOUT_MS / 2;
    const note = `The answer took ${(ms / 1000).toFixed(1)} s (warning threshold ${(this.slowMs / 1000).toFixed(1)} s). Okta gives up after 60 s${half ? ', and this is more than half of that' : ''}; slow answers make imports and bulk pushes fail or crawl.`;
    check.status = check.status === 'pass' ? 'warn' : check.status;
    check.diagnosis = check.diagnosis ? `${check.diagnosis} ${note}` : note;
    check.fix ??= 'Find what makes the service slow (database, load, a proxy or firewall inspecting requests).';
  }
}

const listStep = (name: string, path: string, count?: number, extra?: (b: Record<string, unknown>) => { fail?: string[]; warn?: string[] }): Step => ({
  name,
  method: 'GET',
  path,
  expect: [200],
  verify: (body) => {
    const p = listResponseProblems(body, count);
    const more = p.fail.length === 0 && extra ? extra(body as Record<string, unknown>) : {};
    const b = body as Record<string, unknown> | undefined;
    return {
      fail: [...p.fail, ...(more.fail ?? [])],
      warn: [...p.warn, ...(more.warn ?? [])],
      details: typeof b?.totalResults === 'number' ? { totalResults: b.totalResults } : undefined,
    };
  },
});

function hasSchema(body: unknown, schema: string): boolean {
  const s = (body as { schemas?: unknown })?.schemas;
  return Array.isArray(s) && s.includes(schema);
}

/** The SCIM root to use and, when the given URL was not it, a check saying so. */
async function resolveRoot(given: URL, http: DoctorHttp): Promise<{ root: string; check?: CheckResult }> {
  const asGiven = display(given);
  if (SCIM_SUFFIX.test(given.pathname)) return { root: asGiven };
  const looksScim = (ex: Exchange) => {
    const parsed = parseJson(ex.text);
    return ex.status === 200 && parsed.ok && hasSchema(parsed.value, SPC_SCHEMA);
  };
  const first = await http.send('GET', '/ServiceProviderConfig', undefined, asGiven);
  if (looksScim(first) || first.error) return { root: asGiven };
  const withSuffix = `${asGiven}/scim/v2`;
  const second = await http.send('GET', '/ServiceProviderConfig', undefined, withSuffix);
  if (looksScim(second)) {
    return {
      root: withSuffix,
      check: {
        name: 'Base URL',
        status: 'warn',
        latencyMs: second.latencyMs,
        diagnosis: `${asGiven} is not the SCIM root; the SCIM API answers at ${withSuffix}, and the checks below use that.`,
        fix: `Enter ${withSuffix} as the SCIM base URL in the identity provider.`,
        details: { given: asGiven, scimRoot: withSuffix },
      },
    };
  }
  return { root: asGiven };
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const timeoutMs = opts.timeoutMs ?? OKTA_TIMEOUT_MS;
  const slowMs = opts.slowMs ?? 5000;
  let given: URL;
  try {
    given = normaliseBaseUrl(opts.baseUrl);
  } catch (err) {
    const report: DoctorReport = {
      baseUrl: opts.baseUrl,
      ok: false,
      checks: [{ name: 'Base URL', status: 'fail', diagnosis: `The base URL is not a valid URL: ${(err as Error).message}.`, fix: 'Give the SCIM base URL, e.g. https://<your host>/scim/v2.' }],
    };
    return redact(report, [opts.token]);
  }
  // user:password@ in the URL would be sent as Basic auth by nobody here; keep it out of every report.
  const secrets = [opts.token, given.password, given.username].filter(Boolean);
  const http0 = new DoctorHttp(display(given), { token: opts.token, timeoutMs });
  let report: DoctorReport;
  try {
    const { root, check: rootCheck } = await resolveRoot(given, http0);
    const http = root === display(given) ? http0 : new DoctorHttp(root, { token: opts.token, timeoutMs });
    const r = new Runner(http, timeoutMs, slowMs);
    if (rootCheck) r.checks.push(rootCheck);
    try {
      await readChecks(r);
      if (opts.write) await writeChecks(r);
    } finally {
      if (http !== http0) await http.close();
    }
    report = { baseUrl: root, ok: !r.checks.some((c) => c.status === 'fail'), checks: r.checks };
  } finally {
    await http0.close();
  }
  return redact(report, secrets);
}

async function readChecks(r: Runner): Promise<void> {
  await r.run(listStep('Test API credentials', '/Users?startIndex=1&count=2', 2));

  const ghost = `plumm-doctor-${random()}@example.invalid`;
  await r.run(
    listStep('Find user by userName', `/Users?filter=${encodeURIComponent(`userName eq "${ghost}"`)}`, undefined, (b) => ({
      fail: b.totalResults !== 0 ? [`filtering on a userName nobody has returned totalResults ${JSON.stringify(b.totalResults)} instead of 0 (the filter is ignored, so Okta would match the wrong user)`] : [],
    })),
  );

  await r.run({
    name: 'ServiceProviderConfig',
    method: 'GET',
    path: '/ServiceProviderConfig',
    expect: [200],
    verify: (body) => {
      if (!hasSchema(body, SPC_SCHEMA)) return { fail: [`"schemas" does not contain "${SPC_SCHEMA}"`] };
      const patch = (body as { patch?: { supported?: unknown } }).patch;
      return patch?.supported === true ? {} : { warn: ['it does not announce PATCH support ("patch.supported": true)'] };
    },
  });
  await r.run({
    name: 'ResourceTypes',
    method: 'GET',
    path: '/ResourceTypes',
    expect: [200],
    verify: (body) => {
      const list = Array.isArray(body) ? body : (body as { Resources?: unknown })?.Resources;
      if (!Array.isArray(list)) return { fail: ['no list of resource types'] };
      const names = list.map((t) => (t as { name?: unknown })?.name);
      return names.includes('User') ? {} : { fail: ['the User resource type is not listed'] };
    },
  });
  await r.run({
    name: 'Schemas',
    method: 'GET',
    path: '/Schemas',
    expect: [200],
    verify: (body) => {
      const list = Array.isArray(body) ? body : (body as { Resources?: unknown })?.Resources;
      if (!Array.isArray(list)) return { fail: ['no list of schemas'] };
      const ids = list.map((s) => (s as { id?: unknown })?.id);
      return ids.includes(USER_SCHEMA) ? {} : { fail: [`the User schema (${USER_SCHEMA}) is not listed`] };
    },
  });
  await r.run(
    listStep('List users (import paging)', '/Users?startIndex=1&count=100', 100, (b) => ({
      fail: b.startIndex !== 1 ? [`startIndex is ${JSON.stringify(b.startIndex)} although startIndex=1 was asked`] : [],
    })),
  );
  await r.run(listStep('List groups', '/Groups?startIndex=1&count=100&excludedAttributes=members', 100));
}

/** Creates, changes and deletes a test user and group; always cleans up what it created. */
async function writeChecks(r: Runner): Promise<void> {
  const tag = random(6);
  const userName = `plumm-doctor-${tag}@example.invalid`;
  const groupName = `plumm-doctor-${tag}`;
  let userId: string | undefined;
  let groupId: string | undefined;
  let userDeleted = false;
  let groupDeleted = false;
  let userCreateSent = false;
  let groupCreateSent = false;
  const blocked = r.checks.find((c) => c.name === 'Test API credentials' && c.status === 'fail');
  const skipAll = (why: string) => {
    for (const n of ['Create test user', 'Read test user', 'Update name', 'Deactivate user', 'Reactivate user', 'Create test group', 'Delete test group', 'Delete test user']) r.skip(n, why);
  };
  if (blocked) {
    skipAll('Not run: the credentials check failed, so writes would fail the same way.');
    return;
  }
  const idOf = (b: unknown) => (typeof (b as { id?: unknown })?.id === 'string' ? ((b as { id: string }).id) : undefined);
  const userPath = () => `/Users/${encodeURIComponent(userId!)}`;
  const patch = (ops: unknown[]) => ({ schemas: [PATCH_SCHEMA], Operations: ops });
  try {
    userCreateSent = true;
    const created = await r.run({
      name: 'Create test user',
      method: 'POST',
      path: '/Users',
      expect: [201],
      body: {
        schemas: [USER_SCHEMA],
        userName,
        name: { givenName: 'Plumm', familyName: 'Doctor' },
        displayName: 'Plumm Doctor (test user, safe to delete)',
        emails: [{ primary: true, value: userName, type: 'work' }],
        active: true,
        externalId: `plumm-doctor-${tag}`,
      },
      verify: (b) => {
        const fail: string[] = [];
        if (!idOf(b)) fail.push('the created user has no "id"');
        if ((b as { active?: unknown })?.active !== true) fail.push('the created user is not active');
        return { fail, details: { userName, userId: idOf(b) } };
      },
    });
    userId = idOf(created.body);
    if (!userId) {
      for (const n of ['Read test user', 'Update name', 'Deactivate user', 'Reactivate user', 'Create test group', 'Delete test group', 'Delete test user']) r.skip(n, 'Not run: the test user could not be created.');
      return;
    }
    await r.run({
      name: 'Read test user',
      method: 'GET',
      path: userPath(),
      expect: [200],
      verify: (b) => ({ fail: (b as { userName?: unknown })?.userName !== userName ? ['the user read back has a different userName'] : [] }),
    });
    await r.run({
      name: 'Update name',
      method: 'PATCH',
      path: userPath(),
      expect: [200],
      body: patch([{ op: 'replace', value: { name: { givenName: 'Plumm', familyName: 'Doctor-Updated' } } }]),
      verify: (b) => ({ fail: (b as { name?: { familyName?: unknown } })?.name?.familyName !== 'Doctor-Updated' ? ['the answer does not show the new name.familyName'] : [] }),
    });
    await r.run({
      name: 'Deactivate user',
      method: 'PATCH',
      path: userPath(),
      expect: [200],
      body: patch([{ op: 'replace', value: { active: false } }]),
      verify: (b) => ({ fail: (b as { active?: unknown })?.active !== false ? ['the answer does not show "active": false'] : [] }),
    });
    await r.run({
      name: 'Reactivate user',
      method: 'PATCH',
      path: userPath(),
      expect: [200],
      body: patch([{ op: 'replace', value: { active: true } }]),
      verify: (b) => ({ fail: (b as { active?: unknown })?.active !== true ? ['the answer does not show "active": true'] : [] }),
    });
    groupCreateSent = true;
    const group = await r.run({
      name: 'Create test group',
      method: 'POST',
      path: '/Groups',
      expect: [201],
      body: { schemas: [GROUP_SCHEMA], displayName: groupName, members: [{ value: userId }] },
      verify: (b) => ({ fail: idOf(b) ? [] : ['the created group has no "id"'], details: { groupName, groupId: idOf(b) } }),
    });
    groupId = idOf(group.body);
    if (groupId) {
      const del = await r.run({ name: 'Delete test group', method: 'DELETE', path: `/Groups/${encodeURIComponent(groupId)}`, expect: [204, 200] });
      groupDeleted = del.ok;
    } else r.skip('Delete test group', 'Not run: the test group could not be created.');
    const del = await r.run({ name: 'Delete test user', method: 'DELETE', path: userPath(), expect: [204, 200] });
    userDeleted = del.ok;
  } finally {
    await cleanUp(r, {
      userId: userDeleted ? undefined : userId,
      groupId: groupDeleted ? undefined : groupId,
      // A create that failed (timeout, 5xx) may still have happened: look for it by name.
      findUser: userCreateSent && !userId,
      findGroup: groupCreateSent && !groupId,
      userName,
      groupName,
    });
  }
}

/** Deletes what a failed run left behind, and says what remains if that fails too. */
async function cleanUp(
  r: Runner,
  left: { userId?: string; groupId?: string; findUser: boolean; findGroup: boolean; userName: string; groupName: string },
): Promise<void> {
  if (!left.userId && !left.groupId && !left.findUser && !left.findGroup) return;
  const remaining: string[] = [];
  const started = performance.now();
  const find = async (kind: 'Users' | 'Groups', filter: string): Promise<string | undefined> => {
    const ex = await r.http.send('GET', `/${kind}?filter=${encodeURIComponent(filter)}`);
    const parsed = ex.status === 200 ? parseJson(ex.text) : undefined;
    const hit = parsed?.ok ? (parsed.value as { Resources?: { id?: unknown }[] }).Resources?.[0]?.id : undefined;
    return typeof hit === 'string' ? hit : undefined;
  };
  if (left.findGroup) left.groupId = await find('Groups', `displayName eq "${left.groupName}"`);
  if (left.findUser) left.userId = await find('Users', `userName eq "${left.userName}"`);
  if (!left.userId && !left.groupId) return;
  if (left.groupId) {
    const ex = await r.http.send('DELETE', `/Groups/${encodeURIComponent(left.groupId)}`);
    if (!(ex.status === 204 || ex.status === 200 || ex.status === 404)) remaining.push(`group "${left.groupName}" (id ${left.groupId})`);
  }
  if (left.userId) {
    const ex = await r.http.send('DELETE', `/Users/${encodeURIComponent(left.userId)}`);
    if (!(ex.status === 204 || ex.status === 200 || ex.status === 404)) remaining.push(`user "${left.userName}" (id ${left.userId})`);
  }
  const latencyMs = Math.round(performance.now() - started);
  r.checks.push(
    remaining.length === 0
      ? { name: 'Clean up', status: 'pass', latencyMs, diagnosis: 'A step failed; the test user and group were removed afterwards.' }
      : {
          name: 'Clean up',
          status: 'fail',
          latencyMs,
          diagnosis: `Could not remove the test ${remaining.join(' and ')}.`,
          fix: 'Delete them in the identity provider or ask Plumm support to remove them; they are named plumm-doctor-… and are safe to delete.',
          details: { userId: left.userId, groupId: left.groupId },
        },
  );
}
