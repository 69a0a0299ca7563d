/**
 * Backup rotation over a simulated year and more (injected clock): exactly one backup per day for
 * the last 7 days, per ISO week for the last 4 weeks, per month for the last 12 months, nothing
 * past the maximum age — except the newest verified backup, which is never deleted. Plus the
 * scheduler's planned times.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_ROTATION, planRotation, plannedTimes, type RotationItem } from '../src/modules/backups/index.ts';

const DAY = 86_400_000;

test('a year and a month of daily backups: 7 daily, 4 weekly, 12 monthly kept, the newest verified one too', () => {
  const start = Date.UTC(2026, 0, 1, 2);
  let kept: RotationItem[] = [];
  let now = new Date(start);
  for (let d = 0; d < 400; d++) {
    now = new Date(start + d * DAY);
    // Drills pass only in the first 20 days; after that the newest verified backup ages.
    kept.push({ id: `b${d}`, createdAt: now, verified: d < 20 });
    const plan = planRotation(kept, DEFAULT_ROTATION, now);
    kept = kept.filter((k) => plan.has(k.id));
    assert.ok(plan.get('b19') || d < 19, `day ${d}: the newest verified backup is kept`);
  }
  const plan = planRotation(kept, DEFAULT_ROTATION, now);
  const ids = (why: string) => [...plan].filter(([, w]) => w.includes(why)).map(([id]) => id);
  assert.deepEqual(ids('daily'), ['b399', 'b398', 'b397', 'b396', 'b395', 'b394', 'b393']);
  assert.equal(ids('weekly').length, 4);
  assert.equal(ids('monthly').length, 12);
  assert.deepEqual(ids('newest-verified'), ['b19']);
  // Nothing older than a year but the newest verified backup.
  for (const k of kept)
    if (k.id !== 'b19') assert.ok(now.getTime() - k.createdAt.getTime() <= 365 * DAY, `${k.id} is within a year`);
  // One per month: the kept monthly backups are in 12 different months.
  const months = new Set(
    kept.filter((k) => ids('monthly').includes(k.id)).map((k) => k.createdAt.toISOString().slice(0, 7)),
  );
  assert.equal(months.size, 12);
  assert.equal(kept.length, new Set([...ids('daily'), ...ids('weekly'), ...ids('monthly'), 'b19']).size);
});

test('no verified backup: rotation alone decides; an empty list keeps nothing', () => {
  assert.equal(planRotation([], DEFAULT_ROTATION, new Date()).size, 0);
  const now = new Date(Date.UTC(2026, 5, 1));
  const old = { id: 'old', createdAt: new Date(now.getTime() - 400 * DAY), verified: false };
  assert.equal(planRotation([old], DEFAULT_ROTATION, now).has('old'), false, 'older than the maximum age');
  assert.deepEqual(planRotation([{ ...old, verified: true }], DEFAULT_ROTATION, now).get('old'), ['newest-verified']);
});

test('the scheduler plans the daily backup at the configured UTC hour and the drill on its weekday', () => {
  const now = new Date(Date.UTC(2026, 11, 4, 22, 0)); // a Friday
  const t = plannedTimes(now, 2, 0);
  assert.equal(t.backup.toISOString(), '2026-12-05T02:00:00.000Z', 'the next 02:00 after now');
  assert.equal(t.drill.toISOString(), '2026-12-06T03:00:00.000Z');
  const early = plannedTimes(new Date(Date.UTC(2026, 11, 6, 1, 0)), 2, 0); // Sunday 01:00
  assert.equal(early.backup.toISOString(), '2026-12-06T02:00:00.000Z');
  assert.equal(early.drill.toISOString(), '2026-12-06T03:00:00.000Z');
  const late = plannedTimes(new Date(Date.UTC(2026, 11, 6, 4, 0)), 2, 0); // Sunday 04:00
  assert.equal(late.drill.toISOString(), '2026-12-13T03:00:00.000Z');
});
