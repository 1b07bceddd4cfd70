import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/index.js';

test('values live in their namespace until deleted', async () => {
  const s = new MemoryStore();
  await s.set('registrations', 'alice', { contact: 'sip:alice@1.2.3.4' });
  await s.set('flows', 'alice', 'other');
  assert.deepEqual(await s.get('registrations', 'alice'), { contact: 'sip:alice@1.2.3.4' });
  assert.equal(await s.get('flows', 'alice'), 'other');
  assert.equal(await s.count('registrations'), 1);
  assert.deepEqual(await s.entries('registrations'), [['alice', { contact: 'sip:alice@1.2.3.4' }]]);
  assert.equal(await s.delete('registrations', 'alice'), true);
  assert.equal(await s.delete('registrations', 'alice'), false);
  assert.equal(await s.get('registrations', 'alice'), undefined);
  await s.close();
});

test('entries expire after their TTL, on read and in listings', async () => {
  let now = 1_000;
  const s = new MemoryStore(60_000, () => now);
  await s.set('auth', 'bob', 'cached', 500);
  await s.set('auth', 'carol', 'kept');
  assert.equal(await s.get('auth', 'bob'), 'cached');
  now += 500;
  assert.equal(await s.get('auth', 'bob'), undefined, 'gone at its expiry');
  assert.equal(await s.count('auth'), 1);
  await s.close();
});

test('counters count within a window that starts with the first increment', async () => {
  let now = 0;
  const s = new MemoryStore(60_000, () => now);
  assert.equal(await s.incr('rate', 'dave', 1000), 1);
  now = 600;
  assert.equal(await s.incr('rate', 'dave', 1000), 2);
  now = 1000;
  assert.equal(await s.incr('rate', 'dave', 1000), 1, 'a new window');
  await s.close();
});

test('a closed store refuses use', async () => {
  const s = new MemoryStore();
  await s.close();
  await assert.rejects(s.get('x', 'y'), /closed/);
});
