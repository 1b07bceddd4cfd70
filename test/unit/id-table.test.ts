import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdTable } from '../../src/util/id-table.js';

// The tunnel's stream table: what a Map did for it, without a Map's linked outgrown tables (see id-table.ts).
test('IdTable keeps, replaces and drops entries by id, and counts them', () => {
  const t = new IdTable<string>();
  assert.equal(t.size, 0);
  assert.equal(t.get(1), undefined);
  t.set(1, 'a');
  t.set(3, 'b');
  t.set(3, 'c');
  assert.equal(t.size, 2);
  assert.equal(t.get(3), 'c');
  assert.equal(t.delete(3), true);
  assert.equal(t.delete(3), false);
  assert.equal(t.delete(99), false);
  assert.equal(t.size, 1);
  assert.deepEqual(t.values(), ['a']);
  t.clear();
  assert.equal(t.size, 0);
  assert.equal(t.get(1), undefined);
});

test('IdTable takes the whole u32 range of stream ids, 0 and 2^32-1 included', () => {
  const t = new IdTable<number>();
  for (const id of [0, 1, 2 ** 31 + 1, 2 ** 32 - 1]) t.set(id, id);
  assert.equal(t.size, 4);
  for (const id of [0, 1, 2 ** 31 + 1, 2 ** 32 - 1]) assert.equal(t.get(id), id);
  assert.deepEqual(
    t.values().sort((a, b) => a - b),
    [0, 1, 2 ** 31 + 1, 2 ** 32 - 1],
  );
});

test('IdTable under churn (one in, one out, ids rising) holds exactly the live entries', () => {
  const t = new IdTable<{ id: number }>();
  const live = new Set<number>();
  for (let id = 1; id < 200_000; id += 2) {
    t.set(id, { id });
    live.add(id);
    // A few streams stay open for a while, most end at once.
    const end = id % 7 === 0 ? id - 70 : id;
    if (live.delete(end)) assert.equal(t.delete(end), true);
  }
  assert.equal(t.size, live.size);
  assert.deepEqual(
    t
      .values()
      .map((v) => v.id)
      .sort((a, b) => a - b),
    [...live].sort((a, b) => a - b),
  );
});

test('IdTable.values() is a copy: entries deleted while it is walked are all still visited', () => {
  const t = new IdTable<number>();
  for (let id = 1; id <= 10; id++) t.set(id, id);
  const seen: number[] = [];
  for (const v of t.values()) {
    seen.push(v);
    t.delete(v + 1);
  }
  assert.equal(seen.length, 10);
  assert.equal(t.size, 1); // 2..10 deleted on the way; 11 was never there
});
