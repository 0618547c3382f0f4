/** Strict JSON request bodies: a clear SCIM error for malformed or hostile JSON. */
import { ScimError } from '../scim/errors.js';

/** Deeper nesting than any SCIM resource has is refused before it can cost anything. */
export const MAX_JSON_DEPTH = 32;

function tooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

export function parseJsonBody(buf: Buffer): unknown {
  let text: string;
  try {
    // RFC 8259 §8.1: JSON is UTF-8; bytes that are not are an error, not replacement characters.
    text = UTF8.decode(buf);
  } catch {
    throw new ScimError(400, 'The request body is not valid UTF-8.', 'invalidSyntax');
  }
  if (tooDeep(text)) throw new ScimError(400, `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`, 'invalidSyntax');
  let parsed: unknown;
  try {
    // __proto__ keys become ordinary own properties with JSON.parse; the
    // resource layer drops them before they reach any object.
    parsed = JSON.parse(text, refuseNul);
  } catch (err) {
    if (err instanceof ScimError) throw err;
    // The parser's own message quotes the body (a password, say): give only where it broke.
    const at = /position (\d+)/.exec((err as Error).message);
    throw new ScimError(400, `The request body is not valid JSON${at ? ` (at character ${at[1]})` : ''}.`, 'invalidSyntax');
  }
  return parsed;
}

/** NUL characters have no place in SCIM data, and PostgreSQL cannot store them. */
function refuseNul(key: string, value: unknown): unknown {
  if (key.includes('\u0000') || (typeof value === 'string' && value.includes('\u0000'))) {
    throw new ScimError(400, 'The request body contains a NUL character (\\u0000), which no attribute may hold.', 'invalidValue');
  }
  return value;
}
