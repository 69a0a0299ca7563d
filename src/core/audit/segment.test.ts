import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuditFormatError, type AuditEvent } from './event.ts';
import { chainOf, checkpointAt } from './fixtures.ts';
import {
  checkpointFileName,
  eventJsonLine,
  parseCheckpointFile,
  parseCheckpointFileName,
  parseSegment,
  parseSegmentFileName,
  segmentFileName,
  serializeCheckpoint,
  serializeSegment,
} from './segment.ts';

const FIVE = chainOf(5);

test('file names are zero-padded to 12 digits and parse back', () => {
  assert.equal(segmentFileName(1, 1000), 'events-000000000001-000000001000.jsonl');
  assert.deepEqual(parseSegmentFileName('events-000000000001-000000001000.jsonl'), { first: 1, last: 1000 });
  assert.equal(checkpointFileName(1000), 'checkpoint-000000001000.json');
  assert.equal(parseCheckpointFileName('checkpoint-000000001000.json'), 1000);
  for (const bad of [
    'events-1-2.jsonl',
    'events-000000000002-000000000001.jsonl',
    'events-000000000001-000000000002.json',
    'x',
  ]) {
    assert.equal(parseSegmentFileName(bad), null, bad);
  }
  assert.equal(parseCheckpointFileName('checkpoint-1000.json'), null);
  assert.throws(() => segmentFileName(0, 3), RangeError);
  assert.throws(() => segmentFileName(5, 4), RangeError);
  assert.throws(() => checkpointFileName(1e12), RangeError);
});

test('a segment is one canonical event per line and round-trips', () => {
  const text = serializeSegment(FIVE);
  assert.equal(text.split('\n').length, 6);
  assert.ok(text.endsWith('\n'));
  assert.equal(text.split('\n')[0], eventJsonLine(FIVE[0] as AuditEvent));
  assert.match(
    text.split('\n')[0] ?? '',
    /^\{"action":"vault\.secret\.read",.*"details":\{.*\},"hash":"[0-9a-f]{64}","outcome":/,
  );
  assert.deepEqual(parseSegment(text, segmentFileName(1, 5)), FIVE);
  assert.deepEqual(parseSegment(Buffer.from(text)), FIVE);
});

test('serializeSegment refuses empty and non-consecutive input', () => {
  assert.throws(() => serializeSegment([]), AuditFormatError);
  assert.throws(() => serializeSegment([FIVE[0], FIVE[2]] as AuditEvent[]), AuditFormatError);
});

test('parseSegment rejects anything but exact canonical lines, naming file and line', () => {
  const text = serializeSegment(FIVE);
  const lines = text.split('\n');
  const cases: Array<[string | Buffer, RegExp, string?]> = [
    [text.slice(0, -1), /no newline/],
    ['', /empty/],
    [text.replace('{"action"', '{ "action"'), /line 1: not in canonical form/],
    [text + text, /line 6: seq 1 breaks the run/],
    [lines.slice(0, 2).join('\n') + '\n' + lines.slice(3).join('\n'), /line 3: seq 4 breaks the run/],
    [text.replace('"outcome":"', '"extra":1,"outcome":"'), /unrecognized|Unrecognized/],
    [text.replace(/"time":"[^"]+"/, '"time":"yesterday"'), /line 1: time/],
    [Buffer.concat([Buffer.from(text), Buffer.from([0xff, 0x0a])]), /not valid UTF-8/],
    [text, /holds events 1\.\.5, not what its name says/, segmentFileName(1, 6)],
    [text.replace('\n', '\n\n'), /line 2: not valid JSON/],
  ];
  for (const [data, pattern, name] of cases) {
    assert.throws(
      () => parseSegment(data, name ?? 'seg.jsonl'),
      (err: unknown) => err instanceof AuditFormatError && pattern.test(err.message),
      String(pattern),
    );
  }
});

test('checkpoint files round-trip and are checked against their name', () => {
  const cp = checkpointAt(FIVE, 5);
  const text = serializeCheckpoint(cp);
  assert.ok(text.startsWith('{"headHash":'));
  assert.deepEqual(parseCheckpointFile(text, checkpointFileName(5)), cp);
  assert.throws(() => parseCheckpointFile(text, checkpointFileName(6)), /not what its name says/);
  assert.throws(() => parseCheckpointFile(text.replace(':', ': ')), /not in canonical form/);
  assert.throws(() => parseCheckpointFile('{'), /not valid JSON/);
  assert.throws(() => parseCheckpointFile(JSON.stringify({ ...cp, signature: 'zz' }) + '\n'), /signature/);
});
