/**
 * Audit streaming: how fast a backlog of chained events reaches an HTTPS webhook (JSON lines,
 * HMAC-signed, 500 per batch), against reading the same events from the chain alone (the
 * ceiling: `eventPages`), in the same run on the same PGlite database; and the heap while the
 * sink is down with the whole backlog pending (it should hold one batch, not the backlog).
 *
 * Usage: npm run bench -- audit-stream [events=20000]
 * Last line:
 *   audit-stream: delivered_per_s=… read_per_s=… ratio_vs_read=… heap_growth_down_mib=…
 */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createBarrier } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';
import { createEgressGuard } from '../src/adapters/net/egress-guard.ts';
import { createAuditModule, createAuditStreamer, webhookSink } from '../src/modules/audit/index.ts';
import { eventPages } from '../src/modules/audit/audit.store.ts';
import { generateSelfSigned } from '../src/installation/tls.ts';
import { createTestDatabase } from '../test/helpers/db.ts';

const N = Number(process.argv[2] ?? 20_000);
const mib = (b: number) => (b / 1024 / 1024).toFixed(1);

const database = await createTestDatabase('pglite');
const barrier = createBarrier({ keyring: Keyring.create() });
const audit = createAuditModule({ db: database.db, barrier, logDir: '/nonexistent-bench-logs' });
for (let i = 0; i < N; i += 1000)
  await Promise.all(
    Array.from({ length: Math.min(1000, N - i) }, (_, j) =>
      audit.recordCommitted({
        actor: { id: `bench-${(i + j) % 50}`, kind: 'user', authMethod: 'password+totp' },
        action: 'vault.secret.read',
        outcome: 'success',
        resource: { type: 'secret', id: `db/password-${i + j}`, workspace: 'acme' },
        requestId: `req-${i + j}-bench`,
        details: { version: 3 },
      }),
    ),
  );
while ((await audit.chainPending()) > 0);

let t0 = performance.now();
let read = 0;
for await (const page of eventPages(database.db, 1, N, 500)) read += page.length;
const readPerS = read / ((performance.now() - t0) / 1000);

const { cert, key } = await generateSelfSigned();
let up = false;
let received = 0;
const server = createServer({ cert, key }, (req, res) => {
  let lines = 0;
  req.on('data', (c: Buffer) => {
    for (const b of c) if (b === 0x0a) lines++;
  });
  req.on('end', () => {
    if (!up) return void res.writeHead(503).end();
    received += lines;
    res.writeHead(204).end();
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;
const guard = createEgressGuard({ allowlist: '127.0.0.1/32', connectTimeoutMs: 5000, readTimeoutMs: 30_000 });
const streamer = createAuditStreamer({
  db: database.db,
  sinks: [webhookSink({ url: new URL(`https://localhost:${port}/`), secret: 'x'.repeat(32), ca: cert, guard })],
  maxBackoffMs: 200,
});

// Down: the backlog stays in the database; the heap should not grow with it.
global.gc?.();
const heapBefore = process.memoryUsage().heapUsed;
streamer.start();
await new Promise((r) => setTimeout(r, 3000));
const heapDown = process.memoryUsage().heapUsed - heapBefore;

up = true;
t0 = performance.now();
while (received < N) await new Promise((r) => setTimeout(r, 5));
const deliveredPerS = N / ((performance.now() - t0) / 1000);
await streamer.stop();
server.close();
await database.close();

console.log(
  `events=${N} read_per_s=${readPerS.toFixed(0)} delivered_per_s=${deliveredPerS.toFixed(0)} heap_growth_while_down=${mib(heapDown)} MiB`,
);
console.log(
  `audit-stream: delivered_per_s=${deliveredPerS.toFixed(0)} read_per_s=${readPerS.toFixed(0)} ratio_vs_read=${(deliveredPerS / readPerS).toFixed(2)} heap_growth_down_mib=${mib(heapDown)}`,
);
