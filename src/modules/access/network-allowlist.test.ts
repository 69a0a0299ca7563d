/** A stored workspace list that cannot be read refuses everyone on its routes (fail closed). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kysely } from 'kysely';
import { parseClientNetwork } from '../../core/net/client-allowlist.ts';
import type { Database } from '../../db/schema.ts';
import { createNetworkAllowlists } from './network-allowlist.ts';

/** Just enough of the query builder for `readNetworkAllowlist`: one row with the given cidrs. */
function dbWith(cidrs: unknown): Kysely<Database> {
  const q = {
    select: () => q,
    where: () => q,
    executeTakeFirst: async () => (cidrs === undefined ? undefined : { cidrs }),
  };
  return { selectFrom: () => q } as unknown as Kysely<Database>;
}

const open = parseClientNetwork('', '');

test('a readable list narrows; no list does not; an unreadable one refuses every address', async () => {
  const narrowed = createNetworkAllowlists({ db: dbWith(['10.0.0.0/8']), network: open });
  assert.equal(await narrowed.refusal('10.1.2.3', 'w1'), undefined);
  assert.equal(await narrowed.refusal('192.0.2.1', 'w1'), 'workspace');

  const none = createNetworkAllowlists({ db: dbWith(undefined), network: open });
  assert.equal(await none.refusal('192.0.2.1', 'w1'), undefined);

  const broken = createNetworkAllowlists({ db: dbWith(['not a block', '10.0.0.1/8']), network: open });
  assert.equal(await broken.refusal('10.1.2.3', 'w1'), 'workspace');
  assert.equal(await broken.refusal('127.0.0.1', 'w1'), 'workspace');
  assert.equal((await broken.effective('w1', '127.0.0.1')).allowed, false);
  // Routes outside any workspace are the installation's list's alone.
  assert.equal(await broken.refusal('127.0.0.1', undefined), undefined);
});

test('misses of one workspace share one read; a read after a save does not join the one before it', async () => {
  let reads = 0;
  const answers: ((row: { cidrs: string[] } | undefined) => void)[] = [];
  const q = {
    select: () => q,
    where: () => q,
    executeTakeFirst: () => {
      reads++;
      return new Promise((r) => answers.push(r));
    },
  };
  const db = { selectFrom: () => q } as unknown as Kysely<Database>;
  const lists = createNetworkAllowlists({ db, network: open });
  const a = lists.refusal('192.0.2.1', 'w1');
  const b = lists.refusal('192.0.2.1', 'w1');
  assert.equal(reads, 1);
  void lists.refusal('192.0.2.1', 'w2');
  assert.equal(reads, 2, 'another workspace reads its own');
  answers[0]!({ cidrs: ['10.0.0.0/8'] });
  assert.equal(await a, 'workspace');
  assert.equal(await b, 'workspace');

  // A read under way, then a save here: a miss after the save reads again.
  const timed = createNetworkAllowlists({ db, network: open });
  const before = timed.refusal('192.0.2.1', 'w3');
  // Any builder chain the write makes, ending in execute().
  const trx: unknown = new Proxy(() => undefined, {
    get: (_, k) => (k === 'execute' ? async () => [] : k === 'then' ? undefined : () => trx),
  });
  await timed.set(trx as never, 'w3', ['192.0.2.0/24'], 'u', '192.0.2.1');
  const after = timed.refusal('192.0.2.1', 'w3');
  assert.equal(reads, 4);
  answers[2]!({ cidrs: ['10.0.0.0/8'] });
  answers[3]!({ cidrs: ['192.0.2.0/24'] });
  assert.equal(await before, 'workspace');
  assert.equal(await after, undefined, 'the saved list');
});
