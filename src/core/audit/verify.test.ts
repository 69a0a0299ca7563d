import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendEvents } from './chain.ts';
import { makeCheckpoint, type SignedCheckpoint } from './checkpoint.ts';
import {
  auditEventSchema,
  computeEventHash,
  eventLineBytes,
  GENESIS_HEAD,
  looksLikeValidEvent,
  type AuditEvent,
} from './event.ts';
import { claimedSeq, eventJsonLine, ExportLine } from './segment.ts';
import { chainOf, checkpointAt, draft, otherKeys, publicKeys, TEST_KEY_ID, testKeys, withEdit } from './fixtures.ts';
import { verifyTrail, type VerifyReport, type VerifyTrailInput } from './verify.ts';

const TEN = chainOf(10);
const CP5 = checkpointAt(TEN, 5);
const CP10 = checkpointAt(TEN, 10, CP5);

function run(input: Partial<VerifyTrailInput> & Pick<VerifyTrailInput, 'events'>): Promise<VerifyReport> {
  return verifyTrail({ checkpoints: [], publicKeys, ...input });
}
const kinds = (r: VerifyReport) => r.problems.map((p) => [p.kind, p.seq]);
const exported = (checkpoints: SignedCheckpoint[], segments: AuditEvent[] = TEN) => ({ checkpoints, segments });

async function* slowly<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    await new Promise((resolve) => setImmediate(resolve));
    yield item;
  }
}

test('an intact trail with checkpoints and export verifies clean', async () => {
  const r = await run({ events: TEN, checkpoints: [CP5, CP10], exported: exported([CP10]) });
  assert.deepEqual(r, {
    ok: true,
    eventsChecked: 10,
    headSeq: 10,
    headHash: (TEN[9] as AuditEvent).hash,
    problems: [],
    problemsOmitted: 0,
  });
  const empty = await run({ events: [] });
  assert.deepEqual([empty.ok, empty.headSeq, empty.eventsChecked], [true, 0, 0]);
});

test('edited event: "edited" at 5; the export, holding the original, disagrees at 5', async () => {
  const events = withEdit(TEN, 5, (e) => (e.actor.id = 'usr_someone_else'));
  assert.deepEqual(kinds(await run({ events, checkpoints: [CP5, CP10] })), [['edited', 5]]);
  assert.deepEqual(kinds(await run({ events, exported: exported([CP10]) })), [
    ['edited', 5],
    ['export-mismatch', 5],
  ]);
});

test('deleted event: "gap" at 5, and the export still holds it', async () => {
  const events = TEN.filter((e) => e.seq !== 5);
  assert.deepEqual(kinds(await run({ events })), [['gap', 5]]);
  assert.deepEqual(kinds(await run({ events, exported: exported([CP10]) })), [
    ['gap', 5],
    ['export-mismatch', 5],
  ]);
});

test('reordered events: "reordered" at 4', async () => {
  const events = [...TEN.slice(0, 3), TEN[4], TEN[3], ...TEN.slice(5)] as AuditEvent[];
  assert.deepEqual(kinds(await run({ events, checkpoints: [CP5, CP10], exported: exported([CP10]) })), [
    ['reordered', 4],
  ]);
});

test('truncated tail: last 3 dropped while the database checkpoint covers 10', async () => {
  const r = await run({ events: TEN.slice(0, 7), checkpoints: [CP5, CP10] });
  assert.deepEqual(kinds(r), [['truncated', 8]]);
  assert.match(r.problems[0]?.detail ?? '', /ends at event 7.*events 8\.\.10 were removed/);
});

test('truncated tail: the export holds events beyond the database head', async () => {
  const r = await run({ events: TEN.slice(0, 7), checkpoints: [CP5], exported: exported([CP5]) });
  assert.deepEqual(kinds(r), [['truncated', 8]]);
  assert.match(r.problems[0]?.detail ?? '', /export holds events 8\.\.10/);
});

test('rolled back: the database ends at 7 but the export has a checkpoint at 10', async () => {
  const r = await run({ events: TEN.slice(0, 7), checkpoints: [CP5], exported: exported([CP10]) });
  assert.deepEqual(kinds(r), [['rolled-back', 7]]);
  assert.match(r.problems[0]?.detail ?? '', /ends at event 7, but the exported checkpoint covers events up to 10/);
});

test('rolled back and continued: restored at 7, then new events; fork at the exported checkpoint', async () => {
  const restored = TEN.slice(0, 7);
  const last = restored[6] as AuditEvent;
  const events = [
    ...restored,
    ...appendEvents({ seq: 7, hash: last.hash }, [draft(70), draft(71), draft(72), draft(73)]),
  ];
  const r = await run({ events, checkpoints: [CP5], exported: exported([CP10]) });
  assert.deepEqual(kinds(r), [
    ['export-mismatch', 8],
    ['export-mismatch', 9],
    ['fork', 10],
    ['export-mismatch', 10],
  ]);
});

test('fork: the chain was re-hashed after an edit; consistent in itself, but not what was signed', async () => {
  let prev = TEN[4] as AuditEvent;
  const rewritten = TEN.map((e) => {
    if (e.seq <= 5) return e;
    const copy = {
      ...structuredClone(e),
      prevHash: prev.hash,
      ...(e.seq === 6 ? { outcome: 'success' as const, details: {} } : {}),
    };
    copy.hash = computeEventHash(copy);
    prev = copy;
    return copy;
  });
  assert.deepEqual(kinds(await run({ events: rewritten })), []);
  const r = await run({ events: rewritten, exported: exported([CP10], []) });
  assert.deepEqual(kinds(r), [['fork', 10]]);
  assert.match(
    r.problems[0]?.detail ?? '',
    /event 10 in the database has hash .* but the exported checkpoint at 10 signed/,
  );
});

test('two validly signed checkpoints for one treeSize that disagree are a fork', async () => {
  const other = makeCheckpoint({ seq: 10, hash: 'b'.repeat(64) }, testKeys.privateKey, TEST_KEY_ID, CP10.time);
  const r = await run({ events: TEN, checkpoints: [CP10], exported: exported([other], []) });
  assert.deepEqual(kinds(r), [['fork', 10]]);
  assert.match(
    r.problems[0]?.detail ?? '',
    /database checkpoint at 10 and exported checkpoint at 10 are both validly signed/,
  );
});

test('bad signature: reported, and the checkpoint is not used as evidence', async () => {
  const forged = { ...checkpointAt(chainOf(20), 20), headHash: 'c'.repeat(64) };
  const r = await run({ events: TEN, checkpoints: [CP10, forged] });
  assert.deepEqual(kinds(r), [['bad-signature', 20]]);
});

test('unknown key: reported, and the checkpoint is not used as evidence', async () => {
  const stranger = makeCheckpoint({ seq: 20, hash: 'd'.repeat(64) }, otherKeys.privateKey, 'stranger', CP10.time);
  const r = await run({ events: TEN, exported: exported([stranger], []) });
  assert.deepEqual(kinds(r), [['unknown-key', 20]]);
  assert.match(r.problems[0]?.detail ?? '', /key "stranger", which is not a known audit key/);
});

test('malformed checkpoint: reported as malformed', async () => {
  const r = await run({ events: TEN, checkpoints: [{ treeSize: 'ten' }] });
  assert.deepEqual(kinds(r), [['malformed', undefined]]);
});

test('a deleted database checkpoint breaks the checkpoint links', async () => {
  const cp3 = checkpointAt(TEN, 3);
  const cp6 = checkpointAt(TEN, 6, cp3);
  const cp9 = checkpointAt(TEN, 9, cp6);
  assert.deepEqual(kinds(await run({ events: TEN, checkpoints: [cp3, cp6, cp9] })), []);
  assert.deepEqual(kinds(await run({ events: TEN, checkpoints: [cp3, cp9] })), [['checkpoint-link', 9]]);
});

test('exported event that differs from the database event: "export-mismatch"', async () => {
  const segments = withEdit(TEN, 5, (e) => (e.outcome = 'failure'));
  assert.deepEqual(kinds(await run({ events: TEN, exported: exported([CP10], segments) })), [['export-mismatch', 5]]);
  const rehashed = withEdit(TEN, 5, (e) => {
    e.outcome = 'failure';
    e.hash = computeEventHash(e);
  });
  assert.deepEqual(kinds(await run({ events: TEN, exported: exported([CP10], rehashed) })), [['export-mismatch', 5]]);
  const outOfOrder = [...TEN.slice(0, 3), TEN[4], TEN[3], ...TEN.slice(5)] as AuditEvent[];
  assert.deepEqual(kinds(await run({ events: TEN, exported: exported([CP10], outOfOrder) })), [['export-mismatch', 4]]);
});

test('pruned start: verifies from the right retention checkpoint, fails from a wrong one', async () => {
  const rest = TEN.slice(5);
  assert.deepEqual(
    kinds(await run({ events: rest, prunedBefore: CP5, checkpoints: [CP10], exported: exported([CP10]) })),
    [],
  );
  assert.deepEqual(kinds(await run({ events: rest })), [['gap', 1]]);
  const wrongHistory = checkpointAt(appendEvents(GENESIS_HEAD, [100, 101, 102, 103, 104].map(draft)), 5);
  const r = await run({ events: rest, prunedBefore: wrongHistory });
  assert.deepEqual(kinds(r), [['broken-link', 6]]);
  assert.match(r.problems[0]?.detail ?? '', /does not follow the retention checkpoint at 5/);
  assert.deepEqual(kinds(await run({ events: rest, prunedBefore: checkpointAt(TEN, 4) })), [['gap', 5]]);
  const unsigned = { ...CP5, signature: '0'.repeat(128) };
  assert.deepEqual(kinds(await run({ events: rest, prunedBefore: unsigned })), [['bad-signature', 5]]);
});

test('pruned start: events still present before the retention checkpoint are skipped, not reported', async () => {
  const r = await run({ events: TEN, prunedBefore: CP5 });
  assert.deepEqual([kinds(r), r.eventsChecked], [[], 5]);
});

test('async database streams (single events or pages) and export streams give the same report as arrays', async () => {
  const restored = TEN.slice(0, 7);
  const events = [
    ...restored,
    ...appendEvents({ seq: 7, hash: (restored[6] as AuditEvent).hash }, [draft(70), draft(71), draft(72)]),
  ];
  const sync = await run({ events, exported: exported([CP10]) });
  const async = await run({ events: slowly(events), exported: { checkpoints: [CP10], segments: slowly(TEN) } });
  assert.deepEqual(async, sync);
  const paged = await run({
    events: slowly([events.slice(0, 4), events.slice(4, 9), events.slice(9)]),
    exported: { checkpoints: [CP10], segments: slowly(TEN) },
  });
  assert.deepEqual(paged, sync);
  assert.deepEqual(kinds(sync), [
    ['export-mismatch', 8],
    ['export-mismatch', 9],
    ['fork', 10],
    ['export-mismatch', 10],
  ]);
});

test('problems are capped, with the rest counted', async () => {
  const events = TEN.map((e) => ({ ...e, outcome: 'failure' as const }));
  const r = await run({ events, maxProblems: 3 });
  assert.deepEqual([r.ok, r.problems.length, r.problemsOmitted], [false, 3, 7]);
});

// --- Exported lines passed unparsed (the module's fast path): bytes compared, parsed only on a mismatch.

const linesOf = (events: readonly AuditEvent[], file = 'seg.jsonl'): ExportLine[] =>
  events.map((e, i) => {
    const bytes = Buffer.from(eventJsonLine(e));
    return new ExportLine(claimedSeq(bytes) ?? i + 1, bytes, file, i + 1);
  });

/** Re-chains `events` after editing one, so every hash and link is consistent again. */
function rechained(events: readonly AuditEvent[], seq: number, edit: (e: AuditEvent) => void): AuditEvent[] {
  const out: AuditEvent[] = [];
  let prevHash = GENESIS_HEAD.hash;
  for (const orig of events) {
    const e = structuredClone(orig);
    if (e.seq === seq) edit(e);
    e.prevHash = prevHash;
    e.hash = computeEventHash(e);
    prevHash = e.hash;
    out.push(e);
  }
  return out;
}

test('eventLineBytes is byte-identical to eventJsonLine, whether or not the event was just hashed', () => {
  for (const e of chainOf(25)) {
    assert.equal(eventLineBytes(e).toString('utf8'), eventJsonLine(e));
    assert.equal(computeEventHash(e), e.hash);
    assert.equal(eventLineBytes(e).toString('utf8'), eventJsonLine(e));
  }
  const e = { ...(TEN[0] as AuditEvent), details: { note: 'Zürich\n✓', lone: '\ud800' } };
  assert.equal(eventLineBytes(e).toString('utf8'), eventJsonLine(e));
});

test('unparsed export lines: a clean trail verifies as with parsed events, in pages too', async () => {
  const lines = linesOf(TEN);
  assert.deepEqual(
    await run({ events: TEN, checkpoints: [CP10], exported: { checkpoints: [CP10], segments: lines } }),
    await run({ events: TEN, checkpoints: [CP10], exported: exported([CP10]) }),
  );
  const paged = await run({
    events: TEN,
    exported: { checkpoints: [CP10], segments: slowly([lines.slice(0, 3), lines.slice(3)]) },
  });
  assert.deepEqual([paged.ok, paged.eventsChecked], [true, 10]);
});

test('unparsed export lines: a tampered, non-canonical or unreadable line is reported at its seq', async () => {
  const cases: Array<[string, (l: string) => string, RegExp]> = [
    [
      'edited content',
      (l) => l.replace('"outcome":"success"', '"outcome":"failure"'),
      /differs from event 4 in the database/,
    ],
    [
      'edited and re-hashed',
      (l) => JSON.stringify({ ...JSON.parse(l), hash: 'a'.repeat(64) }),
      /not in canonical form|differs/,
    ],
    ['extra space', (l) => l.replace('{"action":', '{ "action":'), /seg\.jsonl line 4: not in canonical form/],
    ['CR before the newline', (l) => l + '\r', /not in canonical form/],
    ['not JSON', (l) => l.slice(0, -1), /seg\.jsonl line 4: not valid JSON/],
  ];
  for (const [what, change, detail] of cases) {
    const lines = linesOf(TEN);
    const l4 = lines[3] as ExportLine;
    lines[3] = new ExportLine(4, Buffer.from(change(l4.bytes.toString('utf8'))), 'seg.jsonl', 4);
    const r = await run({ events: TEN, exported: { checkpoints: [CP10], segments: lines } });
    assert.deepEqual(kinds(r), [['export-mismatch', 4]], what);
    assert.match(r.problems[0]?.detail ?? '', detail, what);
  }
});

test('unparsed export lines: an event edited in the database is reported although its export line is intact', async () => {
  const db = withEdit(TEN, 6, (e) => (e.details = { n: 999 }));
  assert.deepEqual(kinds(await run({ events: db, exported: { checkpoints: [CP10], segments: linesOf(TEN) } })), [
    ['edited', 6],
    ['export-mismatch', 6],
  ]);
});

test('unparsed export lines: a schema-invalid event is never accepted, even when database and export agree byte for byte', async () => {
  // An intruder re-hashes a whole chain with an event the schema refuses and exports it too: the
  // hashes all hold, so only the schema can tell; the fast path must fall back to it.
  const bad = rechained(TEN, 3, (e) => (e.outcome = 'hacked' as never));
  const r = await run({ events: bad, exported: { checkpoints: [], segments: linesOf(bad) } });
  assert.deepEqual(kinds(r), [['export-mismatch', 3]]);
  assert.match(r.problems[0]?.detail ?? '', /line 3: outcome/);
  const longTime = rechained(TEN, 5, (e) => (e.time = '2025-02-30T12:00:00.000Z'));
  assert.deepEqual(kinds(await run({ events: longTime, exported: { checkpoints: [], segments: linesOf(longTime) } })), [
    ['export-mismatch', 5],
  ]);
});

test('unparsed export lines beyond the database head are truncated, and unreadable ones named', async () => {
  const lines = linesOf(TEN);
  lines[8] = new ExportLine(9, Buffer.from('garbage'), 'seg.jsonl', 9);
  const r = await run({ events: TEN.slice(0, 7), exported: { checkpoints: [], segments: lines } });
  assert.deepEqual(kinds(r), [
    ['truncated', 8],
    ['export-mismatch', 9],
  ]);
});

test('looksLikeValidEvent never says yes where the schema says no', () => {
  const base = TEN[1] as AuditEvent;
  const line = Buffer.from(eventJsonLine(base));
  assert.equal(looksLikeValidEvent(base, line), true);
  const variants: Array<(e: AuditEvent) => void> = [
    (e) => (e.outcome = 'nope' as never),
    (e) => (e.actor.kind = 'root' as never),
    (e) => (e.actor.id = ''),
    (e) => (e.action = 'Vault.secret.read'),
    (e) => (e.time = '2025-13-01T00:00:00.000Z'),
    (e) => (e.time = '2025-02-29T00:00:00.000Z'),
    (e) => (e.sourceIp = '999.1.1.1'),
    (e) => (e.prevHash = 'A'.repeat(64)),
    (e) => (e.details = [] as never),
    (e) => (e.userAgent = 'x'.repeat(513)),
  ];
  for (const edit of variants) {
    const e = structuredClone(base);
    edit(e);
    assert.equal(auditEventSchema.safeParse(e).success, false);
    assert.equal(looksLikeValidEvent(e, Buffer.from(eventJsonLine(e))), false, JSON.stringify(e));
  }
  assert.equal(looksLikeValidEvent(base, Buffer.from('{"details":{"__proto__":1}}')), false);
});
