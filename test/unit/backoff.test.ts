import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../src/traversal/backoff.js';

test('backoff doubles from the initial delay up to the cap, jittered within the upper half', () => {
  const lo = () => 0;
  const hi = () => 0.999999;
  assert.equal(backoffDelay(0, 1000, 30_000, lo), 500);
  assert.equal(backoffDelay(0, 1000, 30_000, hi), 1000);
  assert.equal(backoffDelay(3, 1000, 30_000, lo), 4000);
  assert.equal(backoffDelay(3, 1000, 30_000, hi), 8000);
  assert.equal(backoffDelay(20, 1000, 30_000, hi), 30_000, 'capped');
  assert.equal(backoffDelay(20, 1000, 30_000, lo), 15_000, 'never below half the cap');
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(4, 100, 10_000);
    assert.ok(d >= 800 && d <= 1600, `within [800, 1600]: ${d}`);
  }
});
