import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { appendEvents, ChainVerifier, type ChainProblem } from './chain.ts';
import { AuditFormatError, computeEventHash, GENESIS_HEAD, type AuditEvent } from './event.ts';
import { chainOf, draft, withEdit } from './fixtures.ts';
import { eventJsonLine, parseSegment, serializeSegment } from './segment.ts';

function check(
  events: readonly AuditEvent[],
  start = GENESIS_HEAD,
): { problems: ChainProblem[]; head: { seq: number; hash: string } } {
  const v = new ChainVerifier({ start });
  for (const e of events) v.push(e);
  const head = v.finish();
  return { problems: v.problems, head };
}

const kinds = (ps: readonly ChainProblem[]) => ps.map((p) => [p.kind, p.seq]);
const TEN = chainOf(10);

test('appendEvents continues a chain from its head and validates every draft first', () => {
  const first = appendEvents(GENESIS_HEAD, [draft(0), draft(1)]);
  const last = first[1] as AuditEvent;
  const more = appendEvents({ seq: last.seq, hash: last.hash }, [draft(2)]);
  assert.deepEqual(
    more.map((e) => [e.seq, e.prevHash]),
    [[3, last.hash]],
  );
  assert.deepEqual([...first, ...more], chainOf(3));
  assert.throws(
    () => appendEvents(GENESIS_HEAD, [draft(0), { ...draft(1), action: 'nope' }]),
    (err: unknown) => err instanceof AuditFormatError && /draft 1: action/.test(err.message),
  );
  assert.throws(() => appendEvents({ seq: -1, hash: GENESIS_HEAD.hash }, [draft(0)]), AuditFormatError);
  assert.throws(() => appendEvents({ seq: 0, hash: 'ab' }, [draft(0)]), AuditFormatError);
  assert.deepEqual(appendEvents(GENESIS_HEAD, []), []);
});

test('an intact chain verifies with no problems and reports its head', () => {
  const { problems, head } = check(TEN);
  assert.deepEqual(problems, []);
  assert.deepEqual(head, { seq: 10, hash: (TEN[9] as AuditEvent).hash });
});

test('editing one field of event 5 of 10 is "edited" at 5, and nothing else', () => {
  const { problems } = check(withEdit(TEN, 5, (e) => (e.outcome = 'success' === e.outcome ? 'denied' : 'success')));
  assert.deepEqual(kinds(problems), [['edited', 5]]);
  assert.match(problems[0]?.detail ?? '', /event 5 was changed/);
});

test('editing event 5 and re-hashing it is a broken link at 6', () => {
  const edited = withEdit(TEN, 5, (e) => {
    e.details = { n: 999 };
    e.hash = computeEventHash(e);
  });
  assert.deepEqual(kinds(check(edited).problems), [['broken-link', 6]]);
});

test('deleting event 5 is a gap at 5', () => {
  const { problems } = check(TEN.filter((e) => e.seq !== 5));
  assert.deepEqual(kinds(problems), [['gap', 5]]);
  assert.match(problems[0]?.detail ?? '', /event 5 is missing .* from event 4 to event 6/);
});

test('deleting events 5..7 is one gap naming the range', () => {
  const { problems } = check(TEN.filter((e) => e.seq < 5 || e.seq > 7));
  assert.deepEqual(kinds(problems), [['gap', 5]]);
  assert.match(problems[0]?.detail ?? '', /events 5\.\.7 are missing/);
});

test('deleting event 5 and renumbering the rest breaks the chain at 5', () => {
  const renumbered = TEN.filter((e) => e.seq !== 5).map((e) => (e.seq > 5 ? { ...e, seq: e.seq - 1 } : e));
  const problems = check(renumbered).problems;
  assert.deepEqual(problems.find((p) => p.kind === 'broken-link')?.seq, 5);
  assert.ok(problems.every((p) => p.seq >= 5));
});

test('swapping events 4 and 5 is "reordered" at 4', () => {
  const swapped = [...TEN.slice(0, 3), TEN[4], TEN[3], ...TEN.slice(5)] as AuditEvent[];
  assert.deepEqual(kinds(check(swapped).problems), [['reordered', 4]]);
});

test('an event pushed twice is "duplicate"', () => {
  const doubled = [...TEN.slice(0, 5), TEN[4], ...TEN.slice(5)] as AuditEvent[];
  assert.deepEqual(kinds(check(doubled).problems), [['duplicate', 5]]);
});

test('an event arriving beyond the reorder window is a gap, then "reordered" when it comes', () => {
  const v = new ChainVerifier({ reorderWindow: 2 });
  for (const e of [TEN[0], TEN[2], TEN[3], TEN[4], TEN[1]] as AuditEvent[]) v.push(e);
  v.finish();
  assert.deepEqual(kinds(v.problems), [
    ['gap', 2],
    ['reordered', 2],
  ]);
});

test('unreadable events are "malformed", and the verifier does not throw', () => {
  const broken = withEdit(TEN, 3, (e) => ((e as { details: unknown }).details = undefined));
  assert.deepEqual(kinds(check(broken).problems), [['malformed', 3]]);
  const v = new ChainVerifier();
  v.push(null as unknown as AuditEvent);
  v.push({ seq: 'x' } as unknown as AuditEvent);
  assert.deepEqual(kinds(v.problems), [
    ['malformed', 0],
    ['malformed', 0],
  ]);
});

test('a chain that does not start at 1 is a gap from the start', () => {
  const { problems } = check(TEN.slice(3));
  assert.deepEqual(kinds(problems), [['gap', 1]]);
  assert.match(problems[0]?.detail ?? '', /events 1\.\.3 are missing/);
});

test('starting from a checkpoint head verifies the rest of the chain', () => {
  const anchor = TEN[3] as AuditEvent;
  assert.deepEqual(check(TEN.slice(4), { seq: 4, hash: anchor.hash }).problems, []);
  assert.deepEqual(kinds(check(TEN.slice(4), { seq: 4, hash: '1'.repeat(64) }).problems), [['broken-link', 5]]);
});

/** Mutations of one event that a verifier must notice. */
const mutations: Array<(e: AuditEvent, n: number) => void> = [
  (e, n) => (e.seq = e.seq + 1 + (n % 3)),
  (e) => (e.time = new Date(Date.parse(e.time) + 1).toISOString()),
  (e, n) => (e.actor.id += String(n)),
  (e) => (e.actor.kind = e.actor.kind === 'user' ? 'system' : 'user'),
  (e) => (e.actor.authMethod = e.actor.authMethod === undefined ? 'mfa' : undefined),
  (e) => (e.action = 'vault.secret.delete'),
  (e, n) => (e.resource.id = `other_${n}`),
  (e) => (e.resource.workspace = undefined),
  (e) => (e.outcome = e.outcome === 'failure' ? 'success' : 'failure'),
  (e) => (e.requestId = undefined),
  (e) => (e.sourceIp = e.sourceIp === '198.51.100.1' ? '198.51.100.2' : '198.51.100.1'),
  (e, n) => (e.userAgent = `agent/${n}`),
  (e, n) => (e.details = { ...e.details, n: n + 10_000 }),
  (e, n) => (e.prevHash = n.toString(16).padStart(64, 'f').slice(-64)),
  (e, n) => (e.hash = n.toString(16).padStart(64, 'e').slice(-64)),
];

test('property: any single-field mutation of any event in a chain is detected', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 30 }),
      fc.nat(),
      fc.nat(mutations.length - 1),
      fc.nat(1e6),
      (n, pick, m, salt) => {
        const events = chainOf(n);
        const seq = (pick % n) + 1;
        const mutated = withEdit(events, seq, (e) => mutations[m]?.(e, salt));
        assert.notDeepEqual(mutated, events);
        assert.ok(check(mutated).problems.length > 0, `mutation ${m} of event ${seq} went unnoticed`);
      },
    ),
    { numRuns: 400 },
  );
});

test('property: any single-byte change of any exported line is rejected or detected', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      fc.nat(),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (n, pickLine, pickByte, xor) => {
        const events = chainOf(n);
        const bytes = Buffer.from(serializeSegment(events), 'utf8');
        const lineStarts = [0, ...[...bytes.keys()].filter((i) => bytes[i] === 0x0a).map((i) => i + 1)].slice(0, n);
        const lineIndex = pickLine % n;
        const start = lineStarts[lineIndex] as number;
        const length = Buffer.byteLength(eventJsonLine(events[lineIndex] as AuditEvent)) + 1;
        const at = start + (pickByte % length);
        const tampered = Buffer.from(bytes);
        tampered[at] = (tampered[at] as number) ^ xor;
        let parsed: AuditEvent[];
        try {
          parsed = parseSegment(tampered);
        } catch (err) {
          assert.ok(err instanceof AuditFormatError);
          return;
        }
        assert.ok(check(parsed).problems.length > 0, `byte ${at} ^ ${xor} went unnoticed`);
      },
    ),
    { numRuns: 1000 },
  );
});
