/**
 * A transaction runner: runs `work` in one transaction and resolves once it committed. A use case
 * that must act after its commit (swap in-memory keys, apply policies) takes one, so its caller
 * decides what else commits with the work — the request pipeline passes its `commit`, which
 * records the route's audit event in the same transaction.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

export type Transact = <R>(work: (trx: Transaction<Database>) => Promise<R>) => Promise<R>;

/** A runner that opens its own transaction on `db` (callers with no evidence of their own to add). */
export function ownTransaction(db: Kysely<Database>): Transact {
  return (work) => db.transaction().execute(work);
}
