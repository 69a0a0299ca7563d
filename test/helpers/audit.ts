/**
 * One way for a test to check the audit trail: `expectAudit(app, { action, outcome, … })` waits
 * for pending events to be chained, then finds the newest events matching every field given and
 * fails with what it did find. Tests never read `audit_events` by hand.
 */
import assert from 'node:assert/strict';
import type { TestApp } from './app.ts';

export interface ExpectedEvent {
  action: string;
  outcome?: 'success' | 'failure' | 'denied';
  actorId?: string;
  resource?: { type?: string; id?: string; workspace?: string };
  /** Each given detail must be equal (deep) in the event. */
  details?: Record<string, unknown>;
  /** No event's JSON may contain any of these strings (secrets, values, masked data). */
  mustNotContain?: string[];
}

type Event = {
  seq: number;
  action: string;
  outcome: string;
  actor: { id: string };
  resource: { type?: string; id?: string; workspace?: string };
  details: Record<string, unknown>;
};

const matches = (e: Event, x: ExpectedEvent) =>
  e.action === x.action &&
  (x.outcome === undefined || e.outcome === x.outcome) &&
  (x.actorId === undefined || e.actor.id === x.actorId) &&
  Object.entries(x.resource ?? {}).every(([k, v]) => (e.resource as Record<string, unknown>)[k] === v) &&
  Object.entries(x.details ?? {}).every(([k, v]) => JSON.stringify(e.details[k]) === JSON.stringify(v));

/** Asserts at least one event matches; returns the matching events (newest first). */
export async function expectAudit(app: TestApp, x: ExpectedEvent): Promise<Event[]> {
  await app.server.audit.chainPending();
  const { events } = (await app.server.audit.search({
    actionPrefix: x.action,
    order: 'desc',
    limit: 500,
  })) as unknown as { events: Event[] };
  const found = events.filter((e) => matches(e, x));
  assert.ok(
    found.length > 0,
    `no audit event ${JSON.stringify(x)}; newest ${x.action} events: ${JSON.stringify(events.slice(0, 5))}`,
  );
  for (const needle of x.mustNotContain ?? [])
    assert.ok(!JSON.stringify(events).includes(needle), `an audit event contains ${needle}`);
  return found;
}

/** Asserts no event matches. */
export async function expectNoAudit(app: TestApp, x: ExpectedEvent): Promise<void> {
  await app.server.audit.chainPending();
  const { events } = (await app.server.audit.search({
    actionPrefix: x.action,
    order: 'desc',
    limit: 500,
  })) as unknown as { events: Event[] };
  assert.deepEqual(
    events.filter((e) => matches(e, x)),
    [],
    `unexpected audit event ${JSON.stringify(x)}`,
  );
}
