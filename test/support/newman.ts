// Runs Microsoft's SCIM reference Postman collection
// (shared/conformance/AzureAD-SCIMReferenceCode-PostmanCollection.json) with newman,
// programmatically, and returns one result per executed request.
//
// The collection's URLs are `{{Protocol}}://{{Server}}{{Port}}/{{Api}}/…` and every SCIM
// request authenticates with `Bearer {{token}}`. Its first folder, "Get Token", fetches a
// token from the reference server's /Token endpoint; we skip it and pass our own token.
// Skipping is done by removing the folder from the collection we hand to newman (rather
// than newman's `folder` option) so the collection's top-level requests still run.
import { readFile } from 'node:fs/promises';
// newman ships no type declarations; the small surface used here is typed below.
// @ts-ignore -- untyped CommonJS module
import newmanModule from 'newman';

export interface PostmanAssertion {
  name: string;
  passed: boolean;
  error?: string;
}

export interface PostmanResult {
  /** top-level folder the request sits in ('' for requests at the collection's root) */
  folder: string;
  name: string;
  /** 1-based: this is the n-th request of that name in the run (names repeat in the collection) */
  occurrence: number;
  method: string;
  url: string;
  /** HTTP status, 0 when no response arrived */
  code: number;
  assertions: PostmanAssertion[];
  /** transport error, if the request could not be sent */
  error?: string;
  /** the response body, cut to 1000 characters (for failure reports) */
  body?: string;
}

export interface PostmanItemInfo {
  folder: string;
  name: string;
  occurrence: number;
  method: string;
  /** the raw URL as written in the collection */
  url: string;
}

export interface RunPostmanOptions {
  /** server origin, e.g. http://127.0.0.1:41234 */
  baseUrl: string;
  /** bearer token, given to the collection as the `token` environment variable */
  token: string;
  /** value of the `Api` variable; default "scim/v2" */
  api?: string;
  /** top-level folders left out; default ["Get Token"] */
  skipFolders?: string[];
  /** per-request timeout in ms; default 15000 */
  timeoutRequest?: number;
}

// --- the JSON shapes we touch -------------------------------------------------

interface CollectionItem {
  name: string;
  item?: CollectionItem[];
  request?: { method?: string; url?: string | { raw?: string } };
  [key: string]: unknown;
}

interface CollectionJson {
  info: unknown;
  item: CollectionItem[];
  [key: string]: unknown;
}

// --- the newman surface we use ------------------------------------------------

interface NewmanCursor {
  position: number;
  ref: string;
}
interface NewmanEventArgs {
  cursor: NewmanCursor;
  item?: { name: string };
  request?: { method: string; url: { toString(): string } };
  response?: { code: number; text?: () => string };
  assertion?: string;
  skipped?: boolean;
  error?: { message?: string; name?: string } | Error;
  execution?: unknown;
  event?: { listen?: string };
}
interface NewmanEmitter {
  on(event: string, listener: (err: (Error & { message: string }) | null, args: NewmanEventArgs) => void): NewmanEmitter;
}
interface NewmanApi {
  run(options: Record<string, unknown>, callback: (err: Error | null, summary: unknown) => void): NewmanEmitter;
}
const newman = newmanModule as NewmanApi;

// -----------------------------------------------------------------------------

const DEFAULT_SKIP = ['Get Token'];

async function loadCollection(file: string): Promise<CollectionJson> {
  const json = JSON.parse(await readFile(file, 'utf8')) as CollectionJson;
  if (!json || !Array.isArray(json.item)) throw new Error(`${file}: not a Postman collection (no "item" array)`);
  return json;
}

function withoutFolders(collection: CollectionJson, skip: string[]): CollectionJson {
  return { ...collection, item: collection.item.filter((it) => !(Array.isArray(it.item) && skip.includes(it.name))) };
}

function rawUrl(item: CollectionItem): string {
  const u = item.request?.url;
  if (typeof u === 'string') return u;
  return u?.raw ?? '';
}

/** Requests in run order (depth first), each with its top-level folder and occurrence number. */
function flatten(collection: CollectionJson): PostmanItemInfo[] {
  const out: PostmanItemInfo[] = [];
  const seen = new Map<string, number>();
  const walk = (items: CollectionItem[], folder: string | undefined) => {
    for (const it of items) {
      if (Array.isArray(it.item)) {
        walk(it.item, folder ?? it.name);
      } else {
        const occurrence = (seen.get(it.name) ?? 0) + 1;
        seen.set(it.name, occurrence);
        out.push({
          folder: folder ?? '',
          name: it.name,
          occurrence,
          method: (it.request?.method ?? 'GET').toUpperCase(),
          url: rawUrl(it),
        });
      }
    }
  };
  walk(collection.item, undefined);
  return out;
}

/** The top-level folder names of a collection, in order. */
export async function listPostmanFolders(file: string): Promise<string[]> {
  const collection = await loadCollection(file);
  return collection.item.filter((it) => Array.isArray(it.item)).map((it) => it.name);
}

/** The requests `runPostman` would run (same order, folders and occurrence numbers). */
export async function listPostmanItems(file: string, skipFolders: string[] = DEFAULT_SKIP): Promise<PostmanItemInfo[]> {
  return flatten(withoutFolders(await loadCollection(file), skipFolders));
}

function errorText(e: unknown): string {
  if (!e) return 'unknown error';
  if (typeof e === 'string') return e;
  const m = (e as { message?: unknown }).message;
  return typeof m === 'string' && m !== '' ? m : String(e);
}

/**
 * Run the collection against `baseUrl` and collect per-request results from newman's
 * `beforeItem`, `request`, `assertion`, `script` and `exception` events. A test-script
 * error (e.g. `pm.response.json()` on a non-JSON body outside `pm.test`) is recorded as
 * a failed assertion whose name starts with "script error".
 */
export async function runPostman(file: string, options: RunPostmanOptions): Promise<PostmanResult[]> {
  const skip = options.skipFolders ?? DEFAULT_SKIP;
  const collection = withoutFolders(await loadCollection(file), skip);
  const plan = flatten(collection);
  const base = new URL(options.baseUrl);
  const env = {
    name: 'plumm-scim-conformance',
    values: [
      { key: 'Protocol', value: base.protocol.replace(/:$/, ''), enabled: true },
      { key: 'Server', value: base.hostname, enabled: true },
      { key: 'Port', value: base.port ? `:${base.port}` : '', enabled: true },
      { key: 'Api', value: options.api ?? 'scim/v2', enabled: true },
      { key: 'token', value: options.token, enabled: true },
    ],
  };

  const byRef = new Map<string, PostmanResult>();
  const results: PostmanResult[] = [];
  const resultFor = (cursor: NewmanCursor, itemName?: string): PostmanResult => {
    let r = byRef.get(cursor.ref);
    if (!r) {
      const info = plan[cursor.position];
      r = {
        folder: info?.folder ?? '',
        name: info?.name ?? itemName ?? `#${cursor.position}`,
        occurrence: info?.occurrence ?? 1,
        method: info?.method ?? '',
        url: info?.url ?? '',
        code: 0,
        assertions: [],
      };
      if (info && itemName !== undefined && info.name !== itemName) {
        r.assertions.push({ name: 'runner', passed: false, error: `position ${cursor.position} is "${itemName}", expected "${info.name}"` });
      }
      byRef.set(cursor.ref, r);
      results.push(r);
    }
    return r;
  };

  const addScriptError = (r: PostmanResult, name: string, error: string) => {
    if (r.assertions.some((a) => !a.passed && a.name.startsWith('script error') && a.error === error)) return;
    r.assertions.push({ name, passed: false, error });
  };

  await new Promise<void>((resolve, reject) => {
    const emitter = newman.run(
      {
        collection,
        environment: env,
        reporters: [],
        timeoutRequest: options.timeoutRequest ?? 15000,
      },
      (err) => (err ? reject(err) : resolve()),
    );
    emitter
      .on('beforeItem', (_err, args) => {
        resultFor(args.cursor, args.item?.name);
      })
      .on('request', (err, args) => {
        const r = resultFor(args.cursor, args.item?.name);
        if (args.request) {
          r.method = args.request.method;
          r.url = args.request.url.toString();
        }
        if (err) r.error = errorText(err);
        r.code = args.response?.code ?? 0;
        const text = args.response?.text?.();
        if (typeof text === 'string') r.body = text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
      })
      .on('assertion', (err, args) => {
        const r = resultFor(args.cursor, args.item?.name);
        if (args.skipped) return;
        const a: PostmanAssertion = { name: args.assertion ?? '(unnamed)', passed: !err };
        if (err) a.error = errorText(args.error ?? err);
        r.assertions.push(a);
      })
      // newman reports a script error twice (`exception`, then `script` with err): keep one
      .on('script', (err, args) => {
        if (!err) return;
        addScriptError(resultFor(args.cursor, args.item?.name), `script error (${args.event?.listen ?? 'script'})`, errorText(err));
      })
      .on('exception', (_err, args) => {
        addScriptError(resultFor(args.cursor, args.item?.name), 'script error', errorText(args.error));
      });
  });

  return results;
}

/** A request passes when it got a response and none of its assertions failed. */
export function postmanPassed(r: PostmanResult): boolean {
  return r.error === undefined && r.code !== 0 && r.assertions.every((a) => a.passed);
}
