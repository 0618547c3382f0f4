/** The auth-failure throttle (src/auth/throttle.ts), driven by an injected clock. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AuthFailureThrottle } from '../../src/auth/throttle.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** Records `n` failures and returns the delay each one would have waited. */
function fail(th: AuthFailureThrottle, ip: string, n: number): number[] {
  const delays: number[] = [];
  for (let i = 0; i < n; i++) {
    delays.push(th.delayFor(ip));
    th.recordFailure(ip);
  }
  return delays;
}

describe('AuthFailureThrottle', () => {
  test('defaults: 60 s window, 10 free failures, 2 s cap', () => {
    const th = new AuthFailureThrottle();
    assert.equal(th.windowMs, 60_000);
    assert.equal(th.freeFailures, 10);
    assert.equal(th.maxDelayMs, 2_000);
  });

  test('an unknown address waits nothing', () => {
    const th = new AuthFailureThrottle();
    assert.equal(th.delayFor('203.0.113.9'), 0);
  });

  test('the first freeFailures failures answer at once, then delays grow and are capped', () => {
    const c = clock();
    const th = new AuthFailureThrottle({ now: c.now });
    const delays = fail(th, '203.0.113.9', 20);
    assert.deepEqual(delays.slice(0, 10), Array(10).fill(0));
    const slowed = delays.slice(10);
    assert.ok(slowed[0] > 0, `the 11th failure is delayed: ${delays}`);
    for (let i = 1; i < slowed.length; i++) assert.ok(slowed[i] >= slowed[i - 1], `delays never shrink: ${delays}`);
    assert.ok(slowed.some((d, i) => i > 0 && d > slowed[0]), `delays grow: ${delays}`);
    assert.ok(slowed.every((d) => d <= 2_000), `capped at maxDelayMs: ${delays}`);
    assert.equal(slowed.at(-1), 2_000, `reaches the cap: ${delays}`);
  });

  test('a very long burst stays capped (no overflow to Infinity or NaN)', () => {
    const th = new AuthFailureThrottle({ now: clock().now });
    fail(th, 'a', 5_000);
    assert.equal(th.delayFor('a'), 2_000);
  });

  test('addresses are counted separately', () => {
    const th = new AuthFailureThrottle({ now: clock().now });
    fail(th, 'a', 30);
    assert.equal(th.delayFor('a'), 2_000);
    assert.equal(th.delayFor('b'), 0);
  });

  test('the window expires: after windowMs the address is free again', () => {
    const c = clock();
    const th = new AuthFailureThrottle({ now: c.now, windowMs: 60_000 });
    fail(th, 'a', 15);
    assert.ok(th.delayFor('a') > 0);
    c.advance(59_999);
    assert.ok(th.delayFor('a') > 0, 'still inside the window');
    c.advance(1);
    assert.equal(th.delayFor('a'), 0, 'window over');
    assert.deepEqual(fail(th, 'a', 10), Array(10).fill(0), 'a fresh window has its free failures again');
    assert.ok(th.delayFor('a') > 0);
  });

  test('options are honoured', () => {
    const th = new AuthFailureThrottle({ now: clock().now, freeFailures: 2, baseDelayMs: 50, maxDelayMs: 300 });
    assert.deepEqual(fail(th, 'x', 7), [0, 0, 50, 100, 200, 300, 300]);
  });

  test('freeFailures 0 delays from the first failure on; maxDelayMs 0 never delays', () => {
    const strict = new AuthFailureThrottle({ now: clock().now, freeFailures: 0 });
    assert.ok(fail(strict, 'x', 1)[0] > 0);
    const off = new AuthFailureThrottle({ now: clock().now, maxDelayMs: 0, freeFailures: 0 });
    assert.deepEqual(fail(off, 'x', 5), [0, 0, 0, 0, 0]);
  });

  test('memory is bounded: beyond maxTracked the least recently failing address is forgotten', () => {
    const c = clock();
    const th = new AuthFailureThrottle({ now: c.now, maxTracked: 100, freeFailures: 1 });
    fail(th, 'keep', 5);
    for (let i = 0; i < 99; i++) th.recordFailure(`10.0.0.${i}`);
    assert.equal(th.size, 100);
    th.recordFailure('keep'); // now the most recent
    th.recordFailure('new-1'); // evicts 10.0.0.0, the oldest
    assert.equal(th.size, 100);
    assert.ok(th.delayFor('keep') > 0, 'a recently failing address is kept');
    assert.equal(th.delayFor('10.0.0.0'), 0);
    for (let i = 0; i < 10_000; i++) th.recordFailure(`spray-${i}`);
    assert.equal(th.size, 100, 'a spray of addresses never grows the map past maxTracked');
  });

  test('the default bound is 10,000 addresses', () => {
    const th = new AuthFailureThrottle({ now: clock().now });
    for (let i = 0; i < 12_000; i++) th.recordFailure(`ip-${i}`);
    assert.equal(th.size, 10_000);
  });

  test('reset forgets an address', () => {
    const th = new AuthFailureThrottle({ now: clock().now });
    fail(th, 'a', 20);
    th.reset('a');
    assert.equal(th.delayFor('a'), 0);
  });

  test('invalid options are refused', () => {
    assert.throws(() => new AuthFailureThrottle({ windowMs: 0 }), RangeError);
    assert.throws(() => new AuthFailureThrottle({ freeFailures: -1 }), RangeError);
    assert.throws(() => new AuthFailureThrottle({ maxTracked: Number.NaN }), RangeError);
  });
});
