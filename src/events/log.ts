/**
 * The provisioning log: every SCIM request an organization's token makes and
 * every operator action, with its outcome and a plain reason on failure.
 * Writes are batched off the request path and flushed on shutdown.
 */
import { randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database, EventTable } from '../store/db.js';

export type Outcome = 'SUCCESS' | 'FAILURE';

export interface ProvisioningEvent {
  orgId: string | null;
  occurredAt: string;
  /** `token:<id>` for an IdP, `operator:<name>` or `cli:<user>` for support staff. */
  actor: string;
  tokenId?: string | null;
  requestId?: string | null;
  clientIp?: string | null;
  userAgent?: string | null;
  method?: string | null;
  path?: string | null;
  action: string;
  outcome: Outcome;
  status?: number | null;
  scimType?: string | null;
  reason?: string | null;
  targetType?: 'User' | 'Group' | 'Token' | 'Organization' | null;
  targetId?: string | null;
  targetName?: string | null;
  durationMs?: number | null;
}

export interface EventView extends ProvisioningEvent {
  id: string;
}

/** The words free-text search looks in: action, outcome, reason and target. */
function searchText(e: ProvisioningEvent): string {
  return [e.action, e.outcome, e.reason, e.targetType, e.targetId, e.targetName, e.status, e.scimType, e.actor]
    .filter((x) => x !== null && x !== undefined && x !== '')
    .join(' ')
    .toLowerCase();
}

export function toRow(e: ProvisioningEvent): Omit<EventTable, 'seq'> {
  return {
    id: randomUUID(),
    org_id: e.orgId,
    occurred_at: e.occurredAt,
    actor: e.actor,
    token_id: e.tokenId ?? null,
    request_id: e.requestId ?? null,
    client_ip: e.clientIp ?? null,
    user_agent: e.userAgent ? e.userAgent.slice(0, 300) : null,
    method: e.method ?? null,
    path: e.path ? e.path.slice(0, 500) : null,
    action: e.action,
    outcome: e.outcome,
    status: e.status ?? null,
    scim_type: e.scimType ?? null,
    reason: e.reason ? e.reason.slice(0, 1000) : null,
    target_type: e.targetType ?? null,
    target_id: e.targetId ?? null,
    target_name: e.targetName ? e.targetName.slice(0, 320) : null,
    duration_ms: e.durationMs ?? null,
    search_text: searchText(e),
  };
}

export function fromRow(r: Omit<EventTable, 'seq'>): EventView {
  return {
    id: r.id,
    orgId: r.org_id,
    occurredAt: r.occurred_at,
    actor: r.actor,
    tokenId: r.token_id,
    requestId: r.request_id,
    clientIp: r.client_ip,
    userAgent: r.user_agent,
    method: r.method,
    path: r.path,
    action: r.action,
    outcome: r.outcome as Outcome,
    status: r.status,
    scimType: r.scim_type,
    reason: r.reason,
    targetType: r.target_type as EventView['targetType'],
    targetId: r.target_id,
    targetName: r.target_name,
    durationMs: r.duration_ms,
  };
}

/**
 * Buffers events and writes them in batches, one transaction per batch. The
 * request that produced an event does not wait for its write; close() writes
 * what is left, so an event whose response was sent survives a clean shutdown.
 */
export class EventRecorder {
  private queue: Omit<EventTable, 'seq'>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: { intervalMs?: number; maxBatch?: number; onError?: (err: unknown) => void } = {},
  ) {}

  record(event: ProvisioningEvent): void {
    this.queue.push(toRow(event));
    if (this.queue.length >= (this.opts.maxBatch ?? 500)) void this.flush();
    else if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => void this.flush(), this.opts.intervalMs ?? 100);
      this.timer.unref();
    }
  }

  /** Writes everything queued so far; resolves once it is stored. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.flushing = this.flushing.then(() => this.writeQueued());
    return this.flushing;
  }

  private async writeQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 500);
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx.insertInto('events').values(batch).execute();
        });
      } catch (err) {
        // Keep the batch for the next flush rather than drop it.
        this.queue.unshift(...batch);
        this.opts.onError?.(err);
        return;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}

/** Writes one event at once (operator actions from the CLI, where no recorder runs). */
export async function recordNow(db: Kysely<Database>, event: ProvisioningEvent): Promise<void> {
  await db.insertInto('events').values(toRow(event)).execute();
}

export interface EventQuery {
  orgId: string;
  /** Free text over action, outcome, reason and target; every word must appear. */
  query?: string;
  from?: string;
  to?: string;
  outcome?: Outcome;
  action?: string;
  limit?: number;
  offset?: number;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function filtered(db: Kysely<Database>, q: EventQuery) {
  let query = db.selectFrom('events').where('org_id', '=', q.orgId);
  if (q.from) query = query.where('occurred_at', '>=', q.from);
  if (q.to) query = query.where('occurred_at', '<', q.to);
  if (q.outcome) query = query.where('outcome', '=', q.outcome);
  if (q.action) query = query.where('action', '=', q.action);
  for (const word of (q.query ?? '').toLowerCase().split(/\s+/).filter(Boolean).slice(0, 10)) {
    query = query.where(sql<boolean>`search_text LIKE ${`%${escapeLike(word)}%`} ESCAPE '\\'`);
  }
  return query;
}

/** Newest first, paged. */
export async function searchEvents(db: Kysely<Database>, q: EventQuery): Promise<{ total: number; events: EventView[] }> {
  const base = filtered(db, q);
  const { n } = await base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const rows = await base
    .selectAll()
    .orderBy('occurred_at', 'desc')
    .orderBy('seq', 'desc')
    .limit(Math.min(Math.max(q.limit ?? 100, 1), 1000))
    .offset(Math.max(q.offset ?? 0, 0))
    .execute();
  return { total: Number(n), events: rows.map(fromRow) };
}

/** Every matching event, newest first, read in pages so memory stays flat. */
export async function* streamEvents(db: Kysely<Database>, q: EventQuery, pageSize = 1000): AsyncGenerator<EventView> {
  let cursor: { at: string; seq: number } | undefined;
  for (;;) {
    let page = filtered(db, q).selectAll();
    if (cursor) {
      const c = cursor;
      page = page.where((eb) => eb.or([eb('occurred_at', '<', c.at), eb.and([eb('occurred_at', '=', c.at), eb('seq', '<', c.seq)])]));
    }
    const rows = await page.orderBy('occurred_at', 'desc').orderBy('seq', 'desc').limit(pageSize).execute();
    for (const r of rows) yield fromRow(r);
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1];
    cursor = { at: last.occurred_at, seq: last.seq };
  }
}

export type Bucket = 'minute' | 'hour' | 'day';
const BUCKET_LENGTH: Record<Bucket, number> = { minute: 16, hour: 13, day: 10 };

/** Counts of events per time bucket and outcome, oldest first, for a chart. */
export async function countEvents(
  db: Kysely<Database>,
  q: EventQuery & { bucket: Bucket },
): Promise<{ bucket: string; success: number; failure: number }[]> {
  const len = BUCKET_LENGTH[q.bucket];
  const rows = await filtered(db, q)
    .select((eb) => [eb.fn<string>('substr', ['occurred_at', eb.val(1), eb.val(len)]).as('b'), 'outcome', eb.fn.countAll<number>().as('n')])
    .groupBy(['b', 'outcome'])
    .orderBy('b')
    .execute();
  const byBucket = new Map<string, { bucket: string; success: number; failure: number }>();
  const suffix = q.bucket === 'day' ? 'T00:00:00.000Z' : q.bucket === 'hour' ? ':00:00.000Z' : ':00.000Z';
  for (const r of rows) {
    const key = `${r.b}${suffix}`;
    const entry = byBucket.get(key) ?? { bucket: key, success: 0, failure: 0 };
    if (r.outcome === 'SUCCESS') entry.success += Number(r.n);
    else entry.failure += Number(r.n);
    byBucket.set(key, entry);
  }
  return [...byBucket.values()];
}

/** Deletes events older than `days` days; returns how many went. */
export async function deleteOlderThan(db: Kysely<Database>, days: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - days * 86_400_000).toISOString();
  const result = await db.deleteFrom('events').where('occurred_at', '<', cutoff).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export const CSV_COLUMNS = [
  'occurredAt', 'orgId', 'actor', 'tokenId', 'requestId', 'clientIp', 'userAgent', 'method', 'path', 'action',
  'outcome', 'status', 'scimType', 'reason', 'targetType', 'targetId', 'targetName', 'durationMs',
] as const;

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  // A leading = + - @ would run as a formula when the file is opened in a spreadsheet.
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvLine(e: EventView): string {
  return `${CSV_COLUMNS.map((c) => csvCell(e[c])).join(',')}\r\n`;
}

/** The whole export as CSV text chunks: a header row, then a line per event. */
export async function* csvChunks(db: Kysely<Database>, q: EventQuery): AsyncGenerator<string> {
  yield csvHeader();
  let chunk = '';
  for await (const e of streamEvents(db, q)) {
    chunk += csvLine(e);
    if (chunk.length > 64 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
