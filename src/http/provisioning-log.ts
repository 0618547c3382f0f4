/**
 * Turns each SCIM request into a provisioning-log event with an action in the
 * words an administrator sees in their IdP ("Push user deactivation"), its
 * outcome, and on failure the reason the client was given.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventRecorder } from '../events/log.js';
import type { ScimError } from '../scim/errors.js';
import { isObject, keyCI } from '../scim/resource.js';

export interface EventTarget {
  type: 'User' | 'Group';
  id?: string;
  name?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by handlers once they know what the request did. */
    logAction?: string;
    logTarget?: EventTarget;
    scimError?: ScimError;
  }
}

/** What a PATCH or PUT asks of `active`: true, false or nothing. */
function requestedActive(method: string, body: unknown): boolean | undefined {
  if (!isObject(body)) return undefined;
  const asBool = (v: unknown) => (typeof v === 'boolean' ? v : typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : undefined);
  if (method === 'PUT') return asBool(body.active);
  const opsKey = keyCI(body, 'operations');
  const ops = opsKey ? body[opsKey] : undefined;
  if (!Array.isArray(ops)) return undefined;
  let found: boolean | undefined;
  for (const op of ops) {
    if (!isObject(op)) continue;
    if (typeof op.path === 'string' && op.path.toLowerCase() === 'active') found = asBool(op.value) ?? found;
    else if (op.path === undefined && isObject(op.value)) {
      const key = keyCI(op.value, 'active');
      if (key) found = asBool(op.value[key]) ?? found;
    }
  }
  return found;
}

function onlyActive(body: unknown): boolean {
  if (!isObject(body)) return false;
  const opsKey = keyCI(body, 'operations');
  const ops = opsKey ? body[opsKey] : undefined;
  return (
    Array.isArray(ops) &&
    ops.length > 0 &&
    ops.every(
      (op) =>
        isObject(op) &&
        ((typeof op.path === 'string' && op.path.toLowerCase() === 'active') ||
          (op.path === undefined && isObject(op.value) && Object.keys(op.value).every((k) => k.toLowerCase() === 'active'))),
    )
  );
}

/** The action a request attempted, judged from the request alone (used when the handler did not say). */
export function classify(req: FastifyRequest): { action: string; target?: EventTarget } {
  const path = req.url.split('?')[0].replace(/\/+$/, '');
  const method = req.method;
  const m = /\/scim\/v2\/(users|groups)(?:\/([^/]+))?$/i.exec(path);
  if (!m) return { action: 'Other request' };
  const kind = m[1].toLowerCase() === 'users' ? 'User' : 'Group';
  const id = m[2] && m[2] !== '.search' ? decodeURIComponent(m[2]) : undefined;
  const body = req.body;
  const name = isObject(body) ? (kind === 'User' ? body.userName : body.displayName) : undefined;
  const target: EventTarget = { type: kind, id, name: typeof name === 'string' ? name : undefined };
  const query = (req.query ?? {}) as Record<string, unknown>;
  if (kind === 'User') {
    if (method === 'GET' && !id) {
      if (query.filter) return { action: 'Look up user', target: { type: 'User', name: String(query.filter).slice(0, 200) } };
      return { action: Number(query.count) > 0 && Number(query.count) <= 2 ? 'Check credentials' : 'Import users' };
    }
    if (method === 'POST' && m[2] === '.search') return { action: 'Import users' };
    if (method === 'GET') return { action: 'Read user', target };
    if (method === 'POST') return { action: 'Push new user', target };
    if (method === 'DELETE') return { action: 'Delete user', target };
    if (method === 'PUT' || method === 'PATCH') {
      const wanted = requestedActive(method, body);
      if (wanted === false) return { action: 'Push user deactivation', target };
      if (wanted === true && (method === 'PATCH' ? onlyActive(body) : false)) return { action: 'Reactivate user', target };
      return { action: 'Push profile update', target };
    }
  } else {
    if (method === 'GET' && !id) return { action: query.filter ? 'Look up group' : 'Import groups' };
    if (method === 'POST' && m[2] === '.search') return { action: 'Import groups' };
    if (method === 'GET') return { action: 'Read group', target };
    if (method === 'POST') return { action: 'Push group', target };
    if (method === 'DELETE') return { action: 'Delete group', target };
    if (method === 'PATCH' || method === 'PUT') return { action: 'Update group membership', target };
  }
  return { action: 'Other request', target };
}

/** The action of a user write, once its effect on `active` is known. */
export function userWriteAction(req: FastifyRequest, wasActive: boolean, isActive: boolean): string {
  // What the IdP asked for names the action, even when the user was already in that state.
  const asked = classify(req).action;
  if (asked === 'Push user deactivation' || asked === 'Reactivate user') return asked;
  if (wasActive && !isActive) return 'Push user deactivation';
  if (!wasActive && isActive) return 'Reactivate user';
  return 'Push profile update';
}

export function recordRequest(recorder: EventRecorder, req: FastifyRequest, reply: FastifyReply): void {
  const guess = classify(req);
  const target = req.logTarget ?? guess.target;
  const status = reply.statusCode;
  const failed = status >= 400;
  recorder.record({
    orgId: req.org?.id ?? null,
    occurredAt: new Date().toISOString(),
    actor: req.tokenId ? `token:${req.tokenId}` : 'anonymous',
    tokenId: req.tokenId ?? null,
    requestId: req.id,
    clientIp: req.ip,
    userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : null,
    method: req.method,
    path: req.url.split('?')[0],
    action: req.logAction ?? guess.action,
    outcome: failed ? 'FAILURE' : 'SUCCESS',
    status,
    scimType: req.scimError?.scimType ?? null,
    reason: failed ? (req.scimError?.message ?? `HTTP ${status}`) : null,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    targetName: target?.name ?? null,
    durationMs: Math.round(reply.elapsedTime * 100) / 100,
  });
}
