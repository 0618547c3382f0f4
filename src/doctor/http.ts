/**
 * One HTTP exchange for the doctor: never follows redirects, measures the
 * latency up to the last byte of the body, and turns transport failures into
 * a code (ECONNREFUSED, CERT_HAS_EXPIRED, TIMEOUT, ...) instead of throwing.
 */
import { Agent, request } from 'undici';

export interface Exchange {
  method: string;
  /** Path relative to the SCIM root, with its query, as shown in the report. */
  path: string;
  url: string;
  latencyMs: number;
  /** Set when an HTTP answer arrived. */
  status?: number;
  headers?: Record<string, string>;
  text?: string;
  /** Set when no HTTP answer arrived. */
  error?: { code: string; message: string };
}

export interface HttpClientOptions {
  token: string;
  timeoutMs: number;
}

const MAX_BODY = 2 * 1024 * 1024;

/**
 * The most telling error code: undici nests the socket or TLS error in
 * `cause`, and its own wrapper codes (UND_ERR_*) say less than Node's.
 */
export function errorCode(err: unknown): { code: string; message: string } {
  const chain: { code?: string; name?: string; message: string }[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 6; depth++) {
    const obj = e as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    chain.push({
      code: typeof obj.code === 'string' ? obj.code : undefined,
      name: typeof obj.name === 'string' ? obj.name : undefined,
      message: typeof obj.message === 'string' ? obj.message : String(e),
    });
    e = obj.cause;
  }
  const specific = chain.find((c) => c.code && !c.code.startsWith('UND_ERR'));
  const any = specific ?? chain.find((c) => c.code) ?? chain.find((c) => c.name === 'TimeoutError' || c.name === 'AbortError');
  let code = any?.code ?? (any ? 'TIMEOUT' : 'UNKNOWN');
  if (code === 'UND_ERR_CONNECT_TIMEOUT') code = 'CONNECT_TIMEOUT';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'ABORT_ERR' || code === 'ETIMEDOUT') code = code === 'ETIMEDOUT' ? 'CONNECT_TIMEOUT' : 'TIMEOUT';
  return { code, message: any?.message ?? chain[0]?.message ?? 'unknown error' };
}

export class DoctorHttp {
  private readonly agent: Agent;

  constructor(
    private readonly root: string,
    private readonly opts: HttpClientOptions,
  ) {
    this.agent = new Agent({
      connect: { timeout: opts.timeoutMs },
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: 1000,
    });
  }

  async send(method: string, path: string, body?: unknown, root = this.root): Promise<Exchange> {
    const url = root + path;
    const started = performance.now();
    const headers: Record<string, string> = {
      accept: 'application/scim+json, application/json',
      authorization: `Bearer ${this.opts.token}`,
      'user-agent': 'plumm-scim-doctor',
    };
    if (body !== undefined) headers['content-type'] = 'application/scim+json; charset=utf-8';
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const res = await request(url, {
        method: method as 'GET',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        dispatcher: this.agent,
        signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        if (size < MAX_BODY) chunks.push(buf);
        size += buf.length;
      }
      const flat: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) flat[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      return {
        method,
        path,
        url,
        latencyMs: Math.round(performance.now() - started),
        status: res.statusCode,
        headers: flat,
        text: Buffer.concat(chunks).toString('utf8'),
      };
    } catch (err) {
      const error = signal.aborted ? { code: 'TIMEOUT', message: 'no complete answer in time' } : errorCode(err);
      return { method, path, url, latencyMs: Math.round(performance.now() - started), error };
    }
  }

  async close(): Promise<void> {
    await this.agent.destroy().catch(() => undefined);
  }
}
