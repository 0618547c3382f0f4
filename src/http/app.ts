/**
 * The Fastify application: one error path that answers SCIM JSON for every
 * failure, strict JSON body parsing, security headers and request ids.
 * buildApp never listens, so tests drive it with inject() or listen on port 0.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { ScimError } from '../scim/errors.js';
import type { Store } from '../store/db.js';
import { EventRecorder } from '../events/log.js';
import { parseJsonBody } from './json.js';
import { adminRoutes } from './admin.js';
import { scimRoutes } from './scim.js';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

export interface AppOptions {
  store: Store;
  config: Config;
  logger?: FastifyServerOptions['logger'];
}

/** A hop count becomes "trust the first N proxies" (the rightmost N X-Forwarded-For entries). */
function trustProxyOption(value: boolean | number | string): boolean | string | ((address: string, hop: number) => boolean) {
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return value;
}

/** The admin API answers application/json; everything else is SCIM. */
function errorContentType(url: string | undefined): string {
  return url?.startsWith('/admin/') ? 'application/json; charset=utf-8' : SCIM_CONTENT_TYPE;
}

const REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Fastify's own error codes that are a client's mistake, with the SCIM answer for each. */
function clientError(err: FastifyError): ScimError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ScimError(413, 'The request body is larger than this service accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ScimError(415, 'Unsupported Content-Type: send application/scim+json or application/json.');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ScimError(400, 'The request body is empty; a JSON object is expected.', 'invalidSyntax');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ScimError(400, 'The Content-Length header does not match the body.', 'invalidSyntax');
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new ScimError(400, 'The request URL is malformed.');
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new ScimError(err.statusCode, err.message);
  }
  return undefined;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: opts.config.bodyLimit,
    // Only proxies the operator names may set the client address, protocol and host.
    trustProxy: trustProxyOption(opts.config.trustProxy),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 500 },
    // Errors the router raises before any handler (a malformed percent-escape
    // in the path) still answer SCIM JSON.
    frameworkErrors: (error, req, reply) => {
      const scim = clientError(error as FastifyError) ?? new ScimError(400, 'The request could not be read.');
      (reply as FastifyReply).code(scim.status).type(errorContentType(req.url)).send(scim.toJSON());
    },
    // Requests too malformed to route (bad request line, oversized headers) get
    // SCIM JSON too, written straight to the socket.
    clientErrorHandler: (err: Error, socket: Socket) => {
      const code = (err as NodeJS.ErrnoException).code;
      const status = code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const detail = status === 431 ? 'The request headers are too large.' : status === 408 ? 'The request took too long to arrive.' : 'The request is not valid HTTP.';
      const body = JSON.stringify(new ScimError(status, detail).toJSON());
      if (socket.writable) {
        socket.end(
          `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
            `Content-Type: ${SCIM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      } else socket.destroy();
    },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.config.bodyLimit }, (req, body, done) => {
    const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const buf = body as Buffer;
    // Identity providers send application/scim+json or application/json with
    // any parameters; a body with no Content-Type at all is read as JSON too.
    if (type !== '' && type !== 'application/json' && type !== 'application/scim+json' && !(type === 'text/plain' && buf.length === 0)) {
      done(new ScimError(415, `Unsupported Content-Type "${type}": send application/scim+json or application/json.`), undefined);
      return;
    }
    if (buf.length === 0) {
      done(null, undefined);
      return;
    }
    try {
      done(null, parseJsonBody(buf));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    // A NUL character names nothing here, and PostgreSQL cannot even compare with one.
    if (/%00/.test(req.url)) throw new ScimError(400, 'The URL contains a NUL character (%00).', 'invalidValue');
  });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler((err: FastifyError | ScimError, req, reply) => {
    let scim: ScimError;
    if (err instanceof ScimError) scim = err;
    else {
      const mapped = clientError(err as FastifyError);
      if (mapped) scim = mapped;
      else {
        req.log.error({ err }, 'request failed');
        scim = new ScimError(500, `An internal error occurred. Quote request id ${req.id} to Plumm support.`);
      }
    }
    req.scimError = scim;
    if (scim.status < 500) req.log.info({ status: scim.status, scimType: scim.scimType }, 'request refused');
    if (scim.status === 401) reply.header('www-authenticate', 'Bearer realm="plumm-scim"');
    if (scim.retryAfterSeconds !== undefined) reply.header('retry-after', String(scim.retryAfterSeconds));
    reply.code(scim.status).type(errorContentType(req.url)).send(scim.toJSON());
  });

  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .type(SCIM_CONTENT_TYPE)
      .send(new ScimError(404, `No endpoint at ${req.method} ${req.url.split('?')[0]}.`).toJSON());
  });

  const recorder = opts.config.provisioningLog
    ? new EventRecorder(opts.store.db, { onError: (err) => app.log.error({ err }, 'provisioning log write failed') })
    : undefined;
  if (recorder) app.addHook('onClose', async () => recorder.close());
  await app.register(scimRoutes, { prefix: '/scim/v2', store: opts.store, config: opts.config, recorder });
  await app.register(adminRoutes, { prefix: '/admin/api', store: opts.store });
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
