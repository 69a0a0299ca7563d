import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { appendEvents } from './chain.ts';
import { canonicalJson } from './canonical.ts';
import {
  auditEventDraftSchema,
  auditEventSchema,
  checkValue,
  computeEventHash,
  eventBody,
  eventCanonicalBytes,
  eventCanonicalJson,
  GENESIS_HEAD,
  hmacValue,
  looksLikeValidDraft,
  type AuditEventDraft,
  type UnhashedEvent,
} from './event.ts';
import { chainOf, draft } from './fixtures.ts';

const AUDIT_KEY = Buffer.alloc(32, 0x11);
const HUNTER2 = 'hmac-sha256:5270e2f49899ad2ea7dfa8168ec1123781a06c980ad2976545e4b8446f151723';

/** The known-answer event of docs/format-audit.md. */
const KAT_EVENT: UnhashedEvent = {
  seq: 1,
  time: '2025-01-31T12:00:00.000Z',
  actor: { id: 'usr_alice', kind: 'user', authMethod: 'password' },
  action: 'vault.secret.read',
  resource: { type: 'secret', id: 'sec_db', workspace: 'ws_finance' },
  outcome: 'success',
  requestId: 'req-0001',
  sourceIp: '192.0.2.10',
  userAgent: 'strongroom-cli/0.1.0',
  details: { version: 3, value: HUNTER2, note: 'Zürich\n✓' },
  prevHash: GENESIS_HEAD.hash,
};
const KAT_CANONICAL =
  '{"action":"vault.secret.read","actor":{"authMethod":"password","id":"usr_alice","kind":"user"},' +
  '"details":{"note":"Zürich\\n✓","value":"' +
  HUNTER2 +
  '","version":3},"outcome":"success",' +
  '"prevHash":"0000000000000000000000000000000000000000000000000000000000000000","requestId":"req-0001",' +
  '"resource":{"id":"sec_db","type":"secret","workspace":"ws_finance"},"seq":1,"sourceIp":"192.0.2.10",' +
  '"time":"2025-01-31T12:00:00.000Z","userAgent":"strongroom-cli/0.1.0"}';
const KAT_HASH = '3f72f79c4f76841382547357dd7ae23f02168389a3ffc1fe8b7b01d5c6155af0';

test('known answer: canonical bytes and hash of a fixed event', () => {
  assert.equal(eventCanonicalJson(KAT_EVENT), KAT_CANONICAL);
  assert.deepEqual(eventCanonicalBytes(KAT_EVENT), Buffer.from(KAT_CANONICAL, 'utf8'));
  assert.equal(computeEventHash(KAT_EVENT), KAT_HASH);
  // The formula, spelled out independently of the implementation.
  const spelled = createHash('sha256')
    .update('strongroom/audit/v1\0')
    .update(Buffer.alloc(32))
    .update(KAT_CANONICAL, 'utf8')
    .digest('hex');
  assert.equal(spelled, KAT_HASH);
  assert.ok(auditEventSchema.safeParse({ ...KAT_EVENT, hash: KAT_HASH }).success);
});

const CHAIN_DRAFTS: AuditEventDraft[] = [
  {
    time: '2025-01-31T12:00:00.000Z',
    actor: { id: 'op', kind: 'operator' },
    action: 'audit.trail.start',
    resource: { type: 'trail' },
    outcome: 'success',
    details: {},
  },
  {
    time: '2025-01-31T12:00:01.000Z',
    actor: { id: 'anon', kind: 'anonymous' },
    action: 'identity.session.create',
    resource: { type: 'session' },
    outcome: 'denied',
    sourceIp: '2001:db8::1',
    details: { reason: 'bad password' },
  },
  {
    time: '2025-01-31T12:00:02.000Z',
    actor: { id: 'usr_bob', kind: 'user', authMethod: 'oidc' },
    action: 'datasets.dataset.read',
    resource: { type: 'dataset', id: 'ds_7', workspace: 'ws_a' },
    outcome: 'success',
    requestId: 'req-3',
    details: { rows: 120, masked: ['email'] },
  },
];

test('known answer: a chain of three fixed events', () => {
  const events = appendEvents(GENESIS_HEAD, CHAIN_DRAFTS);
  assert.deepEqual(
    events.map((e) => [e.seq, e.prevHash.slice(0, 8), e.hash]),
    [
      [1, '00000000', 'e519d9a80f02208d36b8f8fe58a86e2381344df432ba23dfa8cd5e16bd2b6b98'],
      [2, 'e519d9a8', 'd9fcfa0edb37e84f1c8136739e985e0edb106194d26e9a786dd42af38f94a126'],
      [3, 'd9fcfa0e', '05245400b605c169a042f3ecd4d7fe9e5a45ec899400fd5217bc50a821dca40c'],
    ],
  );
  assert.equal(
    eventCanonicalJson(events[1] as UnhashedEvent),
    '{"action":"identity.session.create","actor":{"id":"anon","kind":"anonymous"},"details":{"reason":"bad password"},' +
      '"outcome":"denied","prevHash":"e519d9a80f02208d36b8f8fe58a86e2381344df432ba23dfa8cd5e16bd2b6b98",' +
      '"resource":{"type":"session"},"seq":2,"sourceIp":"2001:db8::1","time":"2025-01-31T12:00:01.000Z"}',
  );
});

test('the hash covers every field: changing any one changes it', () => {
  const base = computeEventHash(KAT_EVENT);
  const edits: Array<(e: UnhashedEvent) => void> = [
    (e) => (e.seq = 2),
    (e) => (e.time = '2025-01-31T12:00:00.001Z'),
    (e) => (e.actor.id = 'usr_mallory'),
    (e) => (e.actor.kind = 'service'),
    (e) => delete e.actor.authMethod,
    (e) => (e.action = 'vault.secret.list'),
    (e) => (e.resource.type = 'secrets'),
    (e) => delete e.resource.id,
    (e) => delete e.resource.workspace,
    (e) => (e.outcome = 'denied'),
    (e) => delete e.requestId,
    (e) => (e.sourceIp = '192.0.2.11'),
    (e) => delete e.userAgent,
    (e) => (e.details['version'] = 4),
    (e) => (e.prevHash = '1'.repeat(64)),
  ];
  for (const [i, edit] of edits.entries()) {
    const e = structuredClone(KAT_EVENT);
    edit(e);
    assert.notEqual(computeEventHash(e), base, `edit ${i}`);
  }
});

test('absent and undefined optional fields hash the same; extra keys are not part of the event', () => {
  const withUndefined = { ...KAT_EVENT, requestId: undefined, actor: { ...KAT_EVENT.actor, authMethod: undefined } };
  const without = structuredClone(KAT_EVENT);
  delete without.requestId;
  delete without.actor.authMethod;
  assert.equal(computeEventHash(withUndefined), computeEventHash(without));
  assert.equal(computeEventHash({ ...KAT_EVENT, rowId: 99 } as UnhashedEvent), KAT_HASH);
  assert.equal(auditEventSchema.safeParse({ ...KAT_EVENT, hash: KAT_HASH, rowId: 99 }).success, false);
});

test('property: the fast writer equals generic canonical JSON of the event body', () => {
  fc.assert(
    fc.property(fc.nat(1000), fc.jsonValue({ maxDepth: 3 }), fc.string(), (i, extra, s) => {
      const e = { ...(chainOf(1)[0] as UnhashedEvent), ...draft(i) } as UnhashedEvent;
      e.details = { extra: extra as never, s };
      if (i % 2 === 0) e.userAgent = s || 'ua';
      assert.equal(eventCanonicalJson(e), canonicalJson(eventBody(e)));
    }),
    { numRuns: 300 },
  );
});

test('non-finite numbers and undefined values inside details are rejected, with the path', () => {
  assert.throws(
    () => computeEventHash({ ...KAT_EVENT, details: { n: Number.POSITIVE_INFINITY } }),
    /\$\.details\.n: number Infinity/,
  );
  assert.throws(
    () => computeEventHash({ ...KAT_EVENT, details: { n: undefined } as never }),
    /\$\.details\.n: undefined/,
  );
  assert.throws(() => computeEventHash({ ...KAT_EVENT, prevHash: 'xyz' }), /prevHash/);
});

test('draft schema: action, time, actor kind, outcome, details', () => {
  const ok = draft(0);
  assert.ok(auditEventDraftSchema.safeParse(ok).success);
  const bad: Array<[string, unknown]> = [
    ['action two words', { ...ok, action: 'vault.read' }],
    ['action upper case', { ...ok, action: 'Vault.secret.read' }],
    ['action four words', { ...ok, action: 'a.b.c.d' }],
    ['time without ms', { ...ok, time: '2025-01-31T12:00:00Z' }],
    ['time with offset', { ...ok, time: '2025-01-31T12:00:00.000+01:00' }],
    ['time not real', { ...ok, time: '2025-02-30T12:00:00.000Z' }],
    ['actor kind', { ...ok, actor: { id: 'x', kind: 'admin' } }],
    ['outcome', { ...ok, outcome: 'ok' }],
    ['details array', { ...ok, details: [1] }],
    ['details infinity', { ...ok, details: { n: Infinity } }],
    ['details too big', { ...ok, details: { s: 'x'.repeat(17 * 1024) } }],
    ['source ip', { ...ok, sourceIp: 'not-an-ip' }],
    ['unknown key', { ...ok, secret: 'hunter2' }],
  ];
  for (const [name, value] of bad) assert.equal(auditEventDraftSchema.safeParse(value).success, false, name);
});

test("the writer's quick draft check never accepts what the schema refuses", () => {
  const ok = draft(0) as Record<string, unknown>;
  const quick = (d: unknown) => looksLikeValidDraft(d as Record<string, unknown>, Buffer.byteLength(JSON.stringify(d)));
  assert.ok(quick(ok));
  assert.ok(quick({ ...ok, requestId: undefined, details: { a: [1, 'b', null, true, { c: -0 }] } }));
  const notSure: unknown[] = [
    { ...ok, action: 'vault.read' },
    { ...ok, time: '2025-02-30T12:00:00.000Z' },
    { ...ok, time: '2025-01-31T24:00:00.000Z' },
    { ...ok, actor: { id: '', kind: 'user' } },
    { ...ok, actor: { id: 'x', kind: 'admin' } },
    { ...ok, actor: { id: 'x', kind: 'user', extra: 1 } },
    { ...ok, resource: { type: 'x', owner: 'y' } },
    { ...ok, resource: { type: 'x'.repeat(65) } },
    { ...ok, outcome: 'ok' },
    { ...ok, details: [1] },
    { ...ok, details: { n: Infinity } },
    { ...ok, details: { n: undefined } },
    { ...ok, details: { d: new Date(0) } },
    { ...ok, details: { a: [1, , 3] } },
    { ...ok, details: { s: 'x'.repeat(17 * 1024) } },
    { ...ok, details: JSON.parse('{"__proto__":{"x":1}}') as unknown },
    { ...ok, sourceIp: 'not-an-ip' },
    { ...ok, secret: 'hunter2' },
  ];
  // Refused by the schema, or (a "__proto__" key) left to it.
  for (const d of notSure) assert.equal(quick(d), false, JSON.stringify(d).slice(0, 80));
  fc.assert(
    fc.property(fc.nat(1000), fc.jsonValue({ maxDepth: 4 }), fc.string(), (i, extra, s) => {
      const d = { ...draft(i), details: { extra, s } } as Record<string, unknown>;
      if (quick(d)) assert.ok(auditEventDraftSchema.safeParse(d).success);
    }),
    { numRuns: 300 },
  );
});

test('hmacValue: known answer, and checkValue confirms only the right value under the right key', () => {
  assert.equal(hmacValue(AUDIT_KEY, 'hunter2'), HUNTER2);
  assert.equal(checkValue(AUDIT_KEY, 'hunter2', HUNTER2), true);
  assert.equal(checkValue(AUDIT_KEY, 'hunter3', HUNTER2), false);
  assert.equal(checkValue(Buffer.alloc(32, 0x12), 'hunter2', HUNTER2), false);
  assert.equal(checkValue(AUDIT_KEY, 'hunter2', HUNTER2.toUpperCase()), false);
  assert.equal(checkValue(AUDIT_KEY, 'hunter2', HUNTER2.slice(0, -2)), false);
  assert.equal(checkValue(AUDIT_KEY, 'hunter2', 'hunter2'), false);
  assert.throws(() => hmacValue(Buffer.alloc(16), 'x'), RangeError);
});
