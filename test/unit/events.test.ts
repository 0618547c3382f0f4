// The provisioning log's own logic against a real (in-memory) SQLite store:
// rows, the batching recorder, search, streaming, counts per time bucket,
// retention, CSV, and how a SCIM request is named in an administrator's words.
// Expected values come from the provisioning-log contract, not from the code.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  CSV_COLUMNS,
  EventRecorder,
  type EventView,
  type ProvisioningEvent,
  countEvents,
  csvChunks,
  csvHeader,
  csvLine,
  deleteOlderThan,
  fromRow,
  recordNow,
  searchEvents,
  streamEvents,
  toRow,
} from '../../src/events/log.js';
import { classify, recordRequest, userWriteAction } from '../../src/http/provisioning-log.js';
import { eventQuery } from '../../src/http/admin.js';
import { ScimError } from '../../src/scim/errors.js';
import { type Store, openStore } from '../../src/store/db.js';

const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ORG = 'org-1';
const OTHER = 'org-2';

let store: Store;

before(async () => {
  store = await openStore(':memory:');
});

after(async () => {
  await store?.close();
});

beforeEach(async () => {
  await store.db.deleteFrom('events').execute();
});

function ev(occurredAt: string, extra: Partial<ProvisioningEvent> = {}): ProvisioningEvent {
  return { orgId: ORG, occurredAt, actor: 'token:t1', tokenId: 't1', action: 'Push new user', outcome: 'SUCCESS', status: 201, ...extra };
}

async function insert(...events: ProvisioningEvent[]): Promise<void> {
  for (const e of events) await recordNow(store.db, e);
}

async function countRows(): Promise<number> {
  const { n } = await store.db.selectFrom('events').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(n);
}

describe('toRow and fromRow', () => {
  test('an event survives the round trip through a row', () => {
    const e: ProvisioningEvent = {
      orgId: ORG,
      occurredAt: '2026-01-01T00:00:00.000Z',
      actor: 'token:t1',
      tokenId: 't1',
      requestId: 'req-1',
      clientIp: '203.0.113.7',
      userAgent: 'Okta SCIM Client 1.0.0',
      method: 'PATCH',
      path: '/scim/v2/Users/u1',
      action: 'Push user deactivation',
      outcome: 'FAILURE',
      status: 404,
      scimType: null,
      reason: 'User "u1" not found.',
      targetType: 'User',
      targetId: 'u1',
      targetName: 'jane@example.com',
      durationMs: 3.25,
    };
    const row = toRow(e);
    const back = fromRow(row);
    assert.equal(typeof back.id, 'string');
    assert.ok(back.id.length > 0);
    const { id: _id, ...rest } = back;
    assert.deepEqual(rest, e);
  });

  test('missing optional fields are stored as null and each row gets its own id', () => {
    const a = toRow(ev('2026-01-01T00:00:00.000Z'));
    const b = toRow(ev('2026-01-01T00:00:00.000Z'));
    assert.notEqual(a.id, b.id);
    for (const key of ['request_id', 'client_ip', 'user_agent', 'method', 'path', 'scim_type', 'reason', 'target_type', 'target_id', 'target_name', 'duration_ms'] as const) {
      assert.equal(a[key], null, key);
    }
  });

  test('long user agents, paths, reasons and target names are cut to a bounded size', () => {
    const row = toRow(ev('2026-01-01T00:00:00.000Z', { userAgent: 'u'.repeat(5000), path: 'p'.repeat(5000), reason: 'r'.repeat(50_000), targetName: 't'.repeat(5000) }));
    assert.ok(row.user_agent!.length <= 1000);
    assert.ok(row.path!.length <= 2000);
    assert.ok(row.reason!.length <= 5000);
    assert.ok(row.target_name!.length <= 1000);
  });
});

describe('EventRecorder', () => {
  test('writes in the background, after a short delay, not on record()', async () => {
    const recorder = new EventRecorder(store.db, { intervalMs: 30 });
    recorder.record(ev('2026-01-01T00:00:00.000Z'));
    assert.equal(await countRows(), 0, 'record() does not write synchronously');
    const deadline = Date.now() + 2000;
    while ((await countRows()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await countRows(), 1, 'the batch is written after the interval');
    await recorder.close();
  });

  test('flush() resolves once every queued event is stored, in batches larger than one transaction', async () => {
    const recorder = new EventRecorder(store.db, { intervalMs: 60_000, maxBatch: 100_000 });
    for (let i = 0; i < 1234; i++) recorder.record(ev(new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), { requestId: `r${i}` }));
    await recorder.flush();
    assert.equal(await countRows(), 1234);
    await recorder.close();
  });

  test('reaching maxBatch writes without waiting for the interval', async () => {
    const recorder = new EventRecorder(store.db, { intervalMs: 60_000, maxBatch: 10 });
    for (let i = 0; i < 10; i++) recorder.record(ev('2026-01-01T00:00:00.000Z'));
    const deadline = Date.now() + 2000;
    while ((await countRows()) < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(await countRows(), 10);
    await recorder.close();
  });

  test('close() writes what is left', async () => {
    const recorder = new EventRecorder(store.db, { intervalMs: 60_000 });
    recorder.record(ev('2026-01-01T00:00:00.000Z'));
    recorder.record(ev('2026-01-01T00:00:01.000Z'));
    await recorder.close();
    assert.equal(await countRows(), 2);
  });

  test('a failed write keeps the events for the next flush and reports the error', async () => {
    const errors: unknown[] = [];
    const recorder = new EventRecorder(store.db, { intervalMs: 60_000, onError: (err) => errors.push(err) });
    await sql`ALTER TABLE events RENAME TO events_away`.execute(store.db);
    try {
      recorder.record(ev('2026-01-01T00:00:00.000Z', { requestId: 'kept' }));
      await recorder.flush();
      assert.equal(errors.length, 1, 'the error is reported');
    } finally {
      await sql`ALTER TABLE events_away RENAME TO events`.execute(store.db);
    }
    await recorder.flush();
    const rows = await store.db.selectFrom('events').select('request_id').execute();
    assert.deepEqual(rows, [{ request_id: 'kept' }], 'the event is written once the store is back');
    await recorder.close();
  });
});

describe('searchEvents', () => {
  beforeEach(async () => {
    await insert(
      ev('2026-01-01T10:00:00.000Z', { targetName: 'ann@example.com', targetId: 'u-ann' }),
      ev('2026-01-01T11:00:00.000Z', { outcome: 'FAILURE', status: 409, scimType: 'uniqueness', reason: 'A user with userName "ann@example.com" already exists.', targetName: 'ann@example.com' }),
      ev('2026-01-01T12:00:00.000Z', { action: 'Push user deactivation', targetName: 'bob@example.com', targetId: 'u-bob', status: 200 }),
      ev('2026-01-01T13:00:00.000Z', { action: 'Reactivate user', targetName: 'bob@example.com', targetId: 'u-bob', status: 200 }),
      ev('2026-01-01T14:00:00.000Z', { action: 'Import users', outcome: 'FAILURE', status: 500, reason: 'An internal error occurred; 100% of 10_000 rows.' }),
      ev('2026-01-01T12:30:00.000Z', { orgId: OTHER, targetName: 'ann@example.com', outcome: 'FAILURE', reason: 'other org' }),
      ev('2026-01-01T12:30:00.000Z', { orgId: null, actor: 'anonymous', outcome: 'FAILURE', reason: 'bad token', clientIp: '198.51.100.1' }),
    );
  });

  test('returns only the organization\'s events, newest first, with the total', async () => {
    const { total, events } = await searchEvents(store.db, { orgId: ORG });
    assert.equal(total, 5);
    assert.deepEqual(events.map((e) => e.occurredAt), [
      '2026-01-01T14:00:00.000Z',
      '2026-01-01T13:00:00.000Z',
      '2026-01-01T12:00:00.000Z',
      '2026-01-01T11:00:00.000Z',
      '2026-01-01T10:00:00.000Z',
    ]);
    assert.ok(events.every((e) => e.orgId === ORG));
  });

  test('free text "failure" finds failures, and an email finds the events about that user', async () => {
    const failures = await searchEvents(store.db, { orgId: ORG, query: 'failure' });
    assert.deepEqual(failures.events.map((e) => e.outcome), ['FAILURE', 'FAILURE']);
    const ann = await searchEvents(store.db, { orgId: ORG, query: 'ann@example.com' });
    assert.equal(ann.total, 2);
    const bob = await searchEvents(store.db, { orgId: ORG, query: 'bob@example.com' });
    assert.deepEqual(bob.events.map((e) => e.action), ['Reactivate user', 'Push user deactivation']);
  });

  test('free text looks in action, outcome, reason and target, ignores case, and needs every word', async () => {
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: 'DEACTIVATION' })).total, 1, 'action');
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: 'already exists' })).total, 1, 'reason');
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: 'u-bob' })).total, 2, 'target id');
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: 'Success' })).total, 3, 'outcome');
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: 'failure ann@example.com' })).total, 1, 'all words');
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: 'failure bob@example.com' })).total, 0, 'all words');
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: '   ' })).total, 5, 'blank text matches everything');
  });

  test('% and _ in the text are matched literally, not as wildcards', async () => {
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: '100%' })).total, 1);
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: '%' })).total, 1);
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: '10_000' })).total, 1);
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: '_' })).total, 1);
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: 'ann_example' })).total, 0);
    assert.equal((await searchEvents(store.db, { orgId: ORG, query: '\\' })).total, 0);
  });

  test('the time range includes "from" and excludes "to"', async () => {
    const r = await searchEvents(store.db, { orgId: ORG, from: '2026-01-01T11:00:00.000Z', to: '2026-01-01T13:00:00.000Z' });
    assert.deepEqual(r.events.map((e) => e.occurredAt), ['2026-01-01T12:00:00.000Z', '2026-01-01T11:00:00.000Z']);
  });

  test('outcome and action narrow the search', async () => {
    assert.equal((await searchEvents(store.db, { orgId: ORG, outcome: 'FAILURE' })).total, 2);
    assert.equal((await searchEvents(store.db, { orgId: ORG, outcome: 'SUCCESS' })).total, 3);
    assert.equal((await searchEvents(store.db, { orgId: ORG, action: 'Reactivate user' })).total, 1);
    assert.equal((await searchEvents(store.db, { orgId: ORG, action: 'Reactivate user', outcome: 'FAILURE' })).total, 0);
  });

  test('pages with limit and offset, keeping the total', async () => {
    const all = (await searchEvents(store.db, { orgId: ORG })).events.map((e) => e.id);
    const p1 = await searchEvents(store.db, { orgId: ORG, limit: 2, offset: 0 });
    const p2 = await searchEvents(store.db, { orgId: ORG, limit: 2, offset: 2 });
    const p3 = await searchEvents(store.db, { orgId: ORG, limit: 2, offset: 4 });
    assert.equal(p1.total, 5);
    assert.equal(p3.total, 5);
    assert.deepEqual([...p1.events, ...p2.events, ...p3.events].map((e) => e.id), all);
    assert.equal((await searchEvents(store.db, { orgId: ORG, limit: 2, offset: 10 })).events.length, 0);
  });

  test('events at the same instant come newest-recorded first', async () => {
    await store.db.deleteFrom('events').execute();
    for (let i = 0; i < 5; i++) await insert(ev('2026-01-01T00:00:00.000Z', { requestId: `same-${i}` }));
    const { events } = await searchEvents(store.db, { orgId: ORG });
    assert.deepEqual(events.map((e) => e.requestId), ['same-4', 'same-3', 'same-2', 'same-1', 'same-0']);
  });

  test('the page size is bounded', async () => {
    await store.db.deleteFrom('events').execute();
    const recorder = new EventRecorder(store.db, { intervalMs: 60_000 });
    for (let i = 0; i < 1100; i++) recorder.record(ev('2026-01-01T00:00:00.000Z'));
    await recorder.close();
    const r = await searchEvents(store.db, { orgId: ORG, limit: 1_000_000 });
    assert.equal(r.total, 1100);
    assert.ok(r.events.length <= 1000, `at most 1000 events a page, got ${r.events.length}`);
  });
});

describe('streamEvents', () => {
  test('yields every matching event once, newest first, across pages of equal timestamps', async () => {
    const recorder = new EventRecorder(store.db, { intervalMs: 60_000 });
    // 3 timestamps x 7 events, pages of 4: page boundaries fall inside runs of equal times.
    for (let t = 0; t < 3; t++) for (let i = 0; i < 7; i++) recorder.record(ev(`2026-01-01T0${t}:00:00.000Z`, { requestId: `${t}-${i}` }));
    recorder.record(ev('2026-01-01T01:00:00.000Z', { orgId: OTHER, requestId: 'other' }));
    await recorder.close();
    const seen: EventView[] = [];
    for await (const e of streamEvents(store.db, { orgId: ORG }, 4)) seen.push(e);
    assert.equal(seen.length, 21);
    assert.equal(new Set(seen.map((e) => e.id)).size, 21, 'no event twice');
    assert.ok(!seen.some((e) => e.requestId === 'other'));
    const expected = (await searchEvents(store.db, { orgId: ORG, limit: 1000 })).events.map((e) => e.id);
    assert.deepEqual(seen.map((e) => e.id), expected, 'the same order as search');
  });

  test('applies the same filters as search', async () => {
    await insert(ev('2026-01-01T00:00:00.000Z'), ev('2026-01-01T01:00:00.000Z', { outcome: 'FAILURE', reason: 'nope' }), ev('2026-01-01T02:00:00.000Z'));
    const seen: EventView[] = [];
    for await (const e of streamEvents(store.db, { orgId: ORG, query: 'failure' }, 1)) seen.push(e);
    assert.deepEqual(seen.map((e) => e.reason), ['nope']);
  });
});

describe('countEvents', () => {
  beforeEach(async () => {
    await insert(
      ev('2026-01-15T08:05:10.000Z'),
      ev('2026-01-15T08:05:50.000Z', { outcome: 'FAILURE' }),
      ev('2026-01-15T08:59:59.999Z', { outcome: 'FAILURE' }),
      ev('2026-01-15T09:00:00.000Z'),
      ev('2026-01-15T09:00:00.000Z'),
      ev('2026-01-15T23:59:59.999Z', { outcome: 'FAILURE' }),
      ev('2026-01-16T00:00:00.000Z'),
      ev('2026-01-15T08:05:00.000Z', { orgId: OTHER }),
      ev('2026-01-15T08:05:00.000Z', { orgId: null, outcome: 'FAILURE' }),
    );
  });

  test('per hour, oldest first, split by outcome', async () => {
    assert.deepEqual(await countEvents(store.db, { orgId: ORG, bucket: 'hour' }), [
      { bucket: '2026-01-15T08:00:00.000Z', success: 1, failure: 2 },
      { bucket: '2026-01-15T09:00:00.000Z', success: 2, failure: 0 },
      { bucket: '2026-01-15T23:00:00.000Z', success: 0, failure: 1 },
      { bucket: '2026-01-16T00:00:00.000Z', success: 1, failure: 0 },
    ]);
  });

  test('per minute and per day', async () => {
    assert.deepEqual(await countEvents(store.db, { orgId: ORG, bucket: 'minute' }), [
      { bucket: '2026-01-15T08:05:00.000Z', success: 1, failure: 1 },
      { bucket: '2026-01-15T08:59:00.000Z', success: 0, failure: 1 },
      { bucket: '2026-01-15T09:00:00.000Z', success: 2, failure: 0 },
      { bucket: '2026-01-15T23:59:00.000Z', success: 0, failure: 1 },
      { bucket: '2026-01-16T00:00:00.000Z', success: 1, failure: 0 },
    ]);
    assert.deepEqual(await countEvents(store.db, { orgId: ORG, bucket: 'day' }), [
      { bucket: '2026-01-15T00:00:00.000Z', success: 3, failure: 3 },
      { bucket: '2026-01-16T00:00:00.000Z', success: 1, failure: 0 },
    ]);
  });

  test('filters apply to the counts, and an organization without events has none', async () => {
    assert.deepEqual(await countEvents(store.db, { orgId: ORG, bucket: 'day', outcome: 'FAILURE' }), [{ bucket: '2026-01-15T00:00:00.000Z', success: 0, failure: 3 }]);
    assert.deepEqual(await countEvents(store.db, { orgId: ORG, bucket: 'hour', from: '2026-01-15T09:00:00.000Z', to: '2026-01-15T23:59:59.999Z' }), [
      { bucket: '2026-01-15T09:00:00.000Z', success: 2, failure: 0 },
    ]);
    assert.deepEqual(await countEvents(store.db, { orgId: 'nobody', bucket: 'hour' }), []);
  });

  test('the counts add up to what search finds', async () => {
    const counts = await countEvents(store.db, { orgId: ORG, bucket: 'minute' });
    const { total } = await searchEvents(store.db, { orgId: ORG });
    assert.equal(counts.reduce((n, c) => n + c.success + c.failure, 0), total);
  });
});

describe('deleteOlderThan', () => {
  test('removes only events older than the cutoff, of every organization, and says how many', async () => {
    const now = new Date('2026-06-30T12:00:00.000Z');
    await insert(
      ev('2026-03-01T00:00:00.000Z', { requestId: 'old' }),
      ev('2026-03-31T11:59:59.999Z', { requestId: 'just-old', orgId: OTHER }),
      ev('2026-03-31T11:59:59.999Z', { requestId: 'just-old-anon', orgId: null }),
      ev('2026-04-01T12:00:00.000Z', { requestId: 'at-cutoff' }),
      ev('2026-06-30T11:00:00.000Z', { requestId: 'recent' }),
    );
    // 90 days before 2026-06-30T12:00Z is 2026-04-01T12:00Z.
    assert.equal(await deleteOlderThan(store.db, 90, now), 3);
    const left = await store.db.selectFrom('events').select('request_id').orderBy('occurred_at').execute();
    assert.deepEqual(left.map((r) => r.request_id), ['at-cutoff', 'recent']);
    assert.equal(await deleteOlderThan(store.db, 90, now), 0, 'nothing more to delete');
  });

  test('uses the current time by default', async () => {
    const now = Date.now();
    await insert(ev(new Date(now - 10 * 86_400_000).toISOString(), { requestId: 'ten-days' }), ev(new Date(now - 86_400_000).toISOString(), { requestId: 'one-day' }));
    assert.equal(await deleteOlderThan(store.db, 5), 1);
    assert.deepEqual((await store.db.selectFrom('events').select('request_id').execute()).map((r) => r.request_id), ['one-day']);
  });
});

describe('CSV', () => {
  const view = (extra: Partial<EventView> = {}): EventView => ({ id: 'e1', ...ev('2026-01-01T00:00:00.000Z'), ...extra });

  test('the header names every column once, and a line has a cell for each', () => {
    const header = csvHeader();
    assert.ok(header.endsWith('\r\n'));
    const columns = header.trimEnd().split(',');
    assert.deepEqual(columns, [...CSV_COLUMNS]);
    assert.equal(new Set(columns).size, columns.length);
    for (const c of ['occurredAt', 'orgId', 'tokenId', 'requestId', 'clientIp', 'userAgent', 'method', 'path', 'action', 'outcome', 'status', 'scimType', 'reason', 'targetType', 'targetId', 'targetName', 'durationMs']) {
      assert.ok(header.trimEnd().split(',').includes(c), `column ${c}`);
    }
    const line = csvLine(view({ reason: null }));
    assert.ok(line.endsWith('\r\n'));
    assert.equal(line.trimEnd().split(',').length, columns.length);
  });

  test('commas, quotes and newlines are quoted, and nulls are empty', () => {
    const line = csvLine(view({ reason: 'a, "b"\nc', targetName: null }));
    assert.ok(line.includes('"a, ""b""\nc"'), line);
    const cells = csvLine(view({ tokenId: null })).split(',');
    assert.equal(cells[CSV_COLUMNS.indexOf('tokenId')], '');
  });

  test('a cell that would start a spreadsheet formula is neutralised', () => {
    for (const danger of ['=1+1', '+1', '-1', '@SUM(A1)', '=HYPERLINK("http://x","y")']) {
      const line = csvLine(view({ targetName: danger }));
      const cells = line.trimEnd().split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/);
      const cell = cells[CSV_COLUMNS.indexOf('targetName')].replace(/^"|"$/g, '');
      assert.ok(!/^[=+\-@]/.test(cell), `${danger} became ${cell}`);
    }
  });

  test('csvChunks yields a header row, then a line per event, newest first', async () => {
    await insert(ev('2026-01-01T00:00:00.000Z', { requestId: 'first' }), ev('2026-01-02T00:00:00.000Z', { requestId: 'second' }), ev('2026-01-02T00:00:00.000Z', { orgId: OTHER }));
    let text = '';
    for await (const chunk of csvChunks(store.db, { orgId: ORG })) text += chunk;
    const lines = text.split('\r\n').filter(Boolean);
    assert.equal(lines[0], csvHeader().trimEnd());
    assert.equal(lines.length, 3);
    assert.match(lines[1], /^2026-01-02T00:00:00.000Z,/);
    assert.match(lines[2], /^2026-01-01T00:00:00.000Z,/);
  });

  test('csvChunks of an organization without events is just the header', async () => {
    const chunks: string[] = [];
    for await (const chunk of csvChunks(store.db, { orgId: 'nobody' })) chunks.push(chunk);
    assert.equal(chunks.join(''), csvHeader());
  });

  test('csvChunks yields bounded chunks, not the whole export at once', async () => {
    const recorder = new EventRecorder(store.db, { intervalMs: 60_000 });
    for (let i = 0; i < 3000; i++) recorder.record(ev('2026-01-01T00:00:00.000Z', { reason: 'r'.repeat(200), outcome: 'FAILURE' }));
    await recorder.close();
    let largest = 0;
    let total = 0;
    for await (const chunk of csvChunks(store.db, { orgId: ORG })) {
      largest = Math.max(largest, chunk.length);
      total += chunk.length;
    }
    assert.ok(total > 500_000);
    assert.ok(largest < 256 * 1024, `largest chunk ${largest} characters of ${total}`);
  });
});

describe('classify', () => {
  const req = (method: string, url: string, body?: unknown) => {
    const query = Object.fromEntries(new URL(url, 'http://x').searchParams);
    return { method, url, body, query } as unknown as FastifyRequest;
  };
  const patch = (...ops: unknown[]) => ({ schemas: [PATCH_SCHEMA], Operations: ops });

  test('Okta\'s deactivation and reactivation PATCH bodies', () => {
    assert.equal(classify(req('PATCH', '/scim/v2/Users/u1', patch({ op: 'replace', value: { active: false } }))).action, 'Push user deactivation');
    assert.equal(classify(req('PATCH', '/scim/v2/Users/u1', patch({ op: 'replace', value: { active: true } }))).action, 'Reactivate user');
  });

  test('Entra\'s deactivation with the strings "False" and "True"', () => {
    assert.equal(classify(req('PATCH', '/scim/v2/Users/u1', patch({ op: 'Replace', path: 'active', value: 'False' }))).action, 'Push user deactivation');
    assert.equal(classify(req('PATCH', '/scim/v2/Users/u1', patch({ op: 'Replace', path: 'active', value: 'True' }))).action, 'Reactivate user');
    assert.equal(classify(req('PATCH', '/scim/v2/Users/u1', patch({ op: 'replace', path: 'active', value: false }))).action, 'Push user deactivation');
  });

  test('a PUT with active false is a deactivation; other writes are profile updates', () => {
    assert.equal(classify(req('PUT', '/scim/v2/Users/u1', { userName: 'a@example.com', active: false })).action, 'Push user deactivation');
    assert.equal(classify(req('PUT', '/scim/v2/Users/u1', { userName: 'a@example.com', active: true })).action, 'Push profile update');
    assert.equal(classify(req('PATCH', '/scim/v2/Users/u1', patch({ op: 'replace', path: 'displayName', value: 'X' }))).action, 'Push profile update');
  });

  test('creates, deletes, imports, credential checks and groups', () => {
    const create = classify(req('POST', '/scim/v2/Users', { userName: 'a@example.com' }));
    assert.equal(create.action, 'Push new user');
    assert.equal(create.target?.name, 'a@example.com');
    const del = classify(req('DELETE', '/scim/v2/Users/u%201'));
    assert.equal(del.action, 'Delete user');
    assert.equal(del.target?.id, 'u 1');
    assert.equal(classify(req('GET', '/scim/v2/Users?startIndex=1&count=100')).action, 'Import users');
    assert.equal(classify(req('GET', '/scim/v2/Users')).action, 'Import users');
    assert.equal(classify(req('POST', '/scim/v2/Users/.search', {})).action, 'Import users');
    assert.equal(classify(req('GET', '/scim/v2/Users?startIndex=1&count=1')).action, 'Check credentials');
    const group = classify(req('POST', '/scim/v2/Groups', { displayName: 'Eng' }));
    assert.equal(group.action, 'Push group');
    assert.equal(group.target?.name, 'Eng');
    assert.equal(classify(req('PATCH', '/scim/v2/Groups/g1', patch({ op: 'add', path: 'members', value: [{ value: 'u1' }] }))).action, 'Update group membership');
    assert.equal(classify(req('PUT', '/scim/v2/Groups/g1', { displayName: 'Eng' })).action, 'Update group membership');
  });

  test('a trailing slash or a different case in the path changes nothing', () => {
    assert.equal(classify(req('POST', '/scim/v2/users/', { userName: 'a@example.com' })).action, 'Push new user');
    assert.equal(classify(req('PATCH', '/scim/v2/Users/u1/', patch({ op: 'replace', value: { active: false } }))).action, 'Push user deactivation');
  });

  test('userWriteAction names a change of active', () => {
    const put = req('PUT', '/scim/v2/Users/u1', { userName: 'a@example.com', active: true, displayName: 'A' });
    // Okta's PUT always carries active: the state change decides.
    assert.equal(userWriteAction(put, false, true), 'Reactivate user');
    assert.equal(userWriteAction(put, true, true), 'Push profile update');
    const rename = req('PATCH', '/scim/v2/Users/u1', patch({ op: 'replace', path: 'displayName', value: 'B' }));
    assert.equal(userWriteAction(rename, true, true), 'Push profile update');
  });

  test('userWriteAction keeps what the IdP asked for when the user was already in that state', () => {
    const deactivate = req('PATCH', '/scim/v2/Users/u1', patch({ op: 'replace', value: { active: false } }));
    assert.equal(userWriteAction(deactivate, false, false), 'Push user deactivation');
    const reactivate = req('PATCH', '/scim/v2/Users/u1', patch({ op: 'replace', value: { active: true } }));
    assert.equal(userWriteAction(reactivate, true, true), 'Reactivate user');
  });
});

describe('recordRequest', () => {
  function fake(opts: { status: number; org?: string; tokenId?: string; error?: ScimError; headers?: Record<string, string> }) {
    const recorded: ProvisioningEvent[] = [];
    const recorder = { record: (e: ProvisioningEvent) => recorded.push(e) } as unknown as EventRecorder;
    const req = {
      id: 'req-42',
      ip: '203.0.113.5',
      method: 'POST',
      url: '/scim/v2/Users?x=1',
      body: { userName: 'ann@example.com', password: 'Hunter2-secret' },
      query: { x: '1' },
      headers: { 'user-agent': 'Okta SCIM Client 1.0.0', authorization: 'Bearer plmscim_secretvalue', ...opts.headers },
      org: opts.org ? { id: opts.org } : undefined,
      tokenId: opts.tokenId,
      scimError: opts.error,
    } as unknown as FastifyRequest;
    const reply = { statusCode: opts.status, elapsedTime: 12.3456 } as unknown as FastifyReply;
    recordRequest(recorder, req, reply);
    assert.equal(recorded.length, 1);
    return recorded[0];
  }

  test('a failure carries the status, SCIM error type and plain reason, and no secret', () => {
    const e = fake({ status: 409, org: ORG, tokenId: 't1', error: new ScimError(409, 'A user with userName "ann@example.com" already exists.', 'uniqueness') });
    assert.equal(e.orgId, ORG);
    assert.equal(e.tokenId, 't1');
    assert.equal(e.requestId, 'req-42');
    assert.equal(e.clientIp, '203.0.113.5');
    assert.equal(e.userAgent, 'Okta SCIM Client 1.0.0');
    assert.equal(e.method, 'POST');
    assert.equal(e.path, '/scim/v2/Users');
    assert.equal(e.action, 'Push new user');
    assert.equal(e.outcome, 'FAILURE');
    assert.equal(e.status, 409);
    assert.equal(e.scimType, 'uniqueness');
    assert.match(e.reason ?? '', /ann@example\.com/);
    assert.equal(e.targetName, 'ann@example.com');
    assert.equal(typeof e.durationMs, 'number');
    assert.ok(!Number.isNaN(Date.parse(e.occurredAt)));
    const text = JSON.stringify(e);
    assert.ok(!text.includes('Hunter2-secret') && !text.includes('secretvalue'), text);
  });

  test('a success has no reason; a request without a token has no organization', () => {
    const ok = fake({ status: 201, org: ORG, tokenId: 't1' });
    assert.equal(ok.outcome, 'SUCCESS');
    assert.equal(ok.reason ?? null, null);
    const anon = fake({ status: 401, error: new ScimError(401, 'The API token is not valid.') });
    assert.equal(anon.orgId, null);
    assert.equal(anon.tokenId ?? null, null);
    assert.equal(anon.outcome, 'FAILURE');
    assert.equal(anon.clientIp, '203.0.113.5');
    assert.ok(!anon.actor.includes('plmscim'));
  });
});

describe('eventQuery (admin and CLI parameters)', () => {
  test('reads outcome in any case and normalises times to ISO', () => {
    const q = eventQuery(ORG, { outcome: 'failure', from: '2026-01-01T00:00:00+02:00', to: '2026-01-02', limit: '5', offset: '10', query: 'x' });
    assert.equal(q.outcome, 'FAILURE');
    assert.equal(q.from, '2025-12-31T22:00:00.000Z');
    assert.equal(q.to, '2026-01-02T00:00:00.000Z');
    assert.equal(q.limit, 5);
    assert.equal(q.offset, 10);
  });

  test('refuses a bad outcome, time or number with 400 invalidValue', () => {
    for (const bad of [{ outcome: 'maybe' }, { from: 'yesterday' }, { limit: '-1' }, { offset: '1.5' }]) {
      assert.throws(() => eventQuery(ORG, bad), (err: unknown) => err instanceof ScimError && err.status === 400 && err.scimType === 'invalidValue', JSON.stringify(bad));
    }
  });
});

