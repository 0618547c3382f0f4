/**
 * Slowing down bursts of failed authentications from one client address.
 *
 * API tokens are 256-bit random secrets, so guessing one is hopeless; the
 * throttle exists to make a stream of bad credentials (a scanner, a stolen
 * but revoked token replayed in a loop, an IdP left configured with an old
 * token) cheap for us and slow for the sender. The first `freeFailures`
 * failures in a window answer at once, so an administrator fixing a typo is
 * never slowed; after that each failure waits longer (doubling from
 * `baseDelayMs`), up to `maxDelayMs`.
 *
 * Memory is bounded: at most `maxTracked` addresses are remembered; when a new
 * one arrives beyond that, the address whose last failure is oldest is
 * forgotten. Nothing is persisted and nothing is shared between instances.
 *
 * Usage (the delay is computed from the failures recorded BEFORE this one):
 *
 *   const wait = throttle.delayFor(ip);
 *   throttle.recordFailure(ip);
 *   if (wait > 0) await sleep(wait);
 *   throw new ScimError(401, ...);
 */

export interface AuthFailureThrottleOptions {
  /** Failures are counted in a window of this length, starting at an address's first failure. */
  windowMs?: number;
  /** Failures in one window answered without delay. */
  freeFailures?: number;
  /** The first delayed failure waits this long; each further one waits twice as long. */
  baseDelayMs?: number;
  /** The longest a failure is ever delayed. */
  maxDelayMs?: number;
  /** The most addresses remembered at once. */
  maxTracked?: number;
  /** The clock, in milliseconds; injected by tests. */
  now?: () => number;
}

interface Entry {
  /** When the address's current window started. */
  windowStart: number;
  /** Failures recorded in the current window. */
  failures: number;
}

export class AuthFailureThrottle {
  readonly windowMs: number;
  readonly freeFailures: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxTracked: number;
  private readonly now: () => number;
  /** Insertion order is recency order: a failure moves its address to the end. */
  private readonly entries = new Map<string, Entry>();

  constructor(opts: AuthFailureThrottleOptions = {}) {
    this.windowMs = positive(opts.windowMs ?? 60_000, 'windowMs');
    this.freeFailures = nonNegative(opts.freeFailures ?? 10, 'freeFailures');
    this.maxDelayMs = nonNegative(opts.maxDelayMs ?? 2_000, 'maxDelayMs');
    this.baseDelayMs = Math.min(positive(opts.baseDelayMs ?? 100, 'baseDelayMs'), this.maxDelayMs || Infinity);
    this.maxTracked = positive(opts.maxTracked ?? 10_000, 'maxTracked');
    this.now = opts.now ?? Date.now;
  }

  /**
   * Milliseconds to wait before answering the next failed authentication from
   * `ip`: 0 while fewer than `freeFailures` failures were recorded in the
   * current window, then baseDelayMs, 2×, 4×, … capped at maxDelayMs.
   */
  delayFor(ip: string): number {
    const failures = this.live(ip)?.failures ?? 0;
    if (failures < this.freeFailures || this.maxDelayMs === 0) return 0;
    const excess = failures - this.freeFailures; // 0 for the first delayed failure
    // 2^excess overflows to Infinity for huge counts; Math.min caps it either way.
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(excess, 64));
  }

  /** Records one failed authentication from `ip`. */
  recordFailure(ip: string): void {
    const now = this.now();
    let entry = this.live(ip);
    if (entry) this.entries.delete(ip); // re-inserted below, as the most recent
    else entry = { windowStart: now, failures: 0 };
    entry.failures++;
    this.entries.set(ip, entry);
    while (this.entries.size > this.maxTracked) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  /** Forgets an address, e.g. after it authenticates successfully (optional). */
  reset(ip: string): void {
    this.entries.delete(ip);
  }

  /** How many addresses are remembered (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  /** The address's entry when its window is still open; an expired one is dropped. */
  private live(ip: string): Entry | undefined {
    const entry = this.entries.get(ip);
    if (!entry) return undefined;
    if (this.now() - entry.windowStart >= this.windowMs) {
      this.entries.delete(ip);
      return undefined;
    }
    return entry;
  }
}

function positive(n: number, name: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new RangeError(`${name} must be a positive number, got ${n}`);
  return n;
}

function nonNegative(n: number, name: string): number {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`${name} must be zero or more, got ${n}`);
  return n;
}
