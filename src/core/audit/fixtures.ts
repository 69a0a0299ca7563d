/**
 * Deterministic inputs for the audit tests (no clock, no randomness), shared by the test files.
 * Not used by production code.
 */
import type { KeyObject } from 'node:crypto';
import { appendEvents } from './chain.ts';
import { keyPairFromSeed, makeCheckpoint, type SignedCheckpoint } from './checkpoint.ts';
import { GENESIS_HEAD, type AuditEvent, type AuditEventDraft } from './event.ts';

/** RFC 8032 §7.1 test 1 secret key: its public key is known, which pins our seed handling. */
export const TEST_SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
export const TEST_KEY_ID = 'audit-test-1';
export const testKeys = keyPairFromSeed(TEST_SEED);
export const otherKeys = keyPairFromSeed(Buffer.alloc(32, 7));
export const publicKeys: ReadonlyMap<string, KeyObject> = new Map([[TEST_KEY_ID, testKeys.publicKey]]);

const BASE_MS = Date.UTC(2025, 0, 31, 12, 0, 0);

/** Draft number `i` (0-based): varied actors, outcomes and optional fields. */
export function draft(i: number): AuditEventDraft {
  const d: AuditEventDraft = {
    time: new Date(BASE_MS + i * 1000).toISOString(),
    actor: { id: `usr_${i % 3}`, kind: i % 4 === 3 ? 'service' : 'user' },
    action: i % 2 === 0 ? 'vault.secret.read' : 'datasets.dataset.create',
    resource: { type: i % 2 === 0 ? 'secret' : 'dataset', id: `res_${i}`, workspace: 'ws_main' },
    outcome: i % 5 === 4 ? 'denied' : 'success',
    requestId: `req-${i}`,
    details: { n: i, tags: ['a', 'b'] },
  };
  if (i % 2 === 0) d.actor.authMethod = 'password';
  if (i % 3 !== 2) d.sourceIp = `192.0.2.${i % 250}`;
  return d;
}

/** A chain of `n` events, seq 1..n. */
export function chainOf(n: number): AuditEvent[] {
  return appendEvents(
    GENESIS_HEAD,
    Array.from({ length: n }, (_, i) => draft(i)),
  );
}

/** A checkpoint over `events[0..treeSize)`, signed with the test key. */
export function checkpointAt(
  events: readonly AuditEvent[],
  treeSize: number,
  prev?: SignedCheckpoint,
): SignedCheckpoint {
  const e = events[treeSize - 1];
  if (e === undefined) throw new RangeError(`no event ${treeSize}`);
  const time = new Date(BASE_MS + treeSize * 1000 + 500).toISOString();
  return makeCheckpoint({ seq: e.seq, hash: e.hash }, testKeys.privateKey, TEST_KEY_ID, time, prev);
}

/** Copy of `events` with `edit` applied to a deep copy of the event with seq `seq`. */
export function withEdit(events: readonly AuditEvent[], seq: number, edit: (e: AuditEvent) => void): AuditEvent[] {
  return events.map((e) => {
    if (e.seq !== seq) return e;
    const copy = structuredClone(e);
    edit(copy);
    return copy;
  });
}
