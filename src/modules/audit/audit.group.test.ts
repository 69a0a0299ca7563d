/** Group commit (audit.group.ts): batching, and no caller told "recorded" before its write commits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGroupWriter } from './audit.group.ts';

/** An insert whose calls are recorded and finished by hand. */
function manualInsert() {
  const calls: { jsons: string[]; finish: (err?: Error) => void }[] = [];
  const insert = (jsons: string[]) =>
    new Promise<void>((resolve, reject) => calls.push({ jsons, finish: (err) => (err ? reject(err) : resolve()) }));
  return { calls, insert };
}
const tick = () => new Promise((r) => setImmediate(r));
const state = (p: Promise<void>) => {
  const s = { settled: false as false | 'ok' | 'failed' };
  p.then(
    () => (s.settled = 'ok'),
    () => (s.settled = 'failed'),
  );
  return s;
};

test('writes handed in together share one insert; nobody resolves before it commits', async () => {
  const { calls, insert } = manualInsert();
  const g = createGroupWriter(insert);
  const ps = ['a', 'b', 'c'].map((j) => state(g.write(j)));
  await tick();
  assert.deepEqual(
    calls.map((c) => c.jsons),
    [['a', 'b', 'c']],
  );
  await tick();
  assert.ok(
    ps.every((p) => p.settled === false),
    'still waiting for the commit',
  );
  calls[0]!.finish();
  await tick();
  assert.ok(ps.every((p) => p.settled === 'ok'));
});

test('writes arriving during an insert go into the next one, in order; at most one insert at a time', async () => {
  const { calls, insert } = manualInsert();
  const g = createGroupWriter(insert);
  const first = state(g.write('1'));
  await tick();
  const later = ['2', '3'].map((j) => state(g.write(j)));
  await tick();
  assert.equal(calls.length, 1, 'the second waits for the first');
  calls[0]!.finish();
  await tick();
  assert.equal(first.settled, 'ok');
  assert.deepEqual(
    calls.map((c) => c.jsons),
    [['1'], ['2', '3']],
  );
  assert.ok(later.every((p) => p.settled === false));
  calls[1]!.finish();
  await tick();
  assert.ok(later.every((p) => p.settled === 'ok'));
});

test('a failed insert fails every write in it (fail-closed), and only those', async () => {
  const { calls, insert } = manualInsert();
  const g = createGroupWriter(insert);
  const failed = ['x', 'y'].map((j) => g.write(j));
  await tick();
  const next = g.write('z');
  calls[0]!.finish(new Error('disk full'));
  for (const p of failed) await assert.rejects(p, /disk full/);
  await tick();
  assert.deepEqual(calls[1]!.jsons, ['z']);
  calls[1]!.finish();
  await next;
});

test('batches are capped', async () => {
  const { calls, insert } = manualInsert();
  const g = createGroupWriter(insert, 2);
  const all = ['1', '2', '3', '4', '5'].map((j) => g.write(j));
  for (let i = 0; i < 3; i++) {
    await tick();
    calls[i]!.finish();
  }
  await Promise.all(all);
  assert.deepEqual(
    calls.map((c) => c.jsons),
    [['1', '2'], ['3', '4'], ['5']],
  );
});
