/**
 * Barrier cost: `barrier.seal` / `barrier.open` of one database value against raw node:crypto
 * AES-256-GCM on the same bytes, in the same run.
 *
 * The raw baseline is what any honest value encryption must do anyway: a fresh 12-byte random
 * nonce, a small fixed AAD (pre-built once), one output buffer nonce ‖ ciphertext ‖ tag, and on
 * open the tag check and one plaintext buffer. What the barrier adds on top is the AAD encoding
 * (domain, version, term, table, column, row id), the 5-byte header, the term lookup in the
 * keyring and the zero-fill of its intermediate buffer. Sizes: 256 B (a typical secret or
 * wrapped key row) and 4 KiB (a certificate or service-account JSON).
 *
 * Method: warm-up, then many short rounds; in each round every operation runs one batch of
 * ~`targetMs` (order rotated per round), so drift on a noisy 2-core machine hits all of them
 * alike. Figures are medians over rounds. The barrier's AAD encoding is also timed alone, to
 * show where the overhead goes. No timing is asserted; only correctness is checked.
 *
 * Usage: npm run bench -- barrier [rounds=21] [targetMs=40]
 * Last line (256-byte figures; raw_per_s is raw encrypt):
 *   barrier: ratio_vs_raw=… open_ratio_vs_raw=… seal_per_s=… open_per_s=… raw_per_s=…
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { encodeAad } from '../src/core/crypto/aead.ts';
import { createBarrier, type BarrierContext } from '../src/core/crypto/barrier.ts';
import { Keyring } from '../src/core/crypto/keyring.ts';

const rounds = Number(process.argv[2] ?? 21);
const targetMs = Number(process.argv[3] ?? 40);
const SIZES = [256, 4096] as const;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const barrier = createBarrier({ keyring: Keyring.create() });
const ctx: BarrierContext = { table: 'vault_secret_versions', column: 'value', rowId: randomUUID() };
const rawKey = randomBytes(32);
const rawAad = Buffer.from(`${ctx.table}/${ctx.column}/${ctx.rowId}`, 'utf8');

function rawSeal(plaintext: Buffer): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', rawKey, nonce, { authTagLength: 16 });
  cipher.setAAD(rawAad);
  const body = cipher.update(plaintext);
  const last = cipher.final();
  return Buffer.concat([nonce, body, last, cipher.getAuthTag()]);
}

function rawOpen(sealed: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', rawKey, sealed.subarray(0, 12), { authTagLength: 16 });
  decipher.setAAD(rawAad);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const out = decipher.update(sealed.subarray(12, sealed.length - 16));
  const last = decipher.final();
  return last.length ? Buffer.concat([out, last]) : out;
}

type Op = 'seal' | 'open' | 'raw_seal' | 'raw_open' | 'aad';
const OPS: readonly Op[] = ['seal', 'open', 'raw_seal', 'raw_open', 'aad'];

/** One operation over `n` iterations; returns ops/s. A sink keeps results observable. */
let sink = 0;
function run(op: Op, n: number, plaintext: Buffer, sealed: Buffer, rawSealed: Buffer): number {
  const t0 = process.hrtime.bigint();
  switch (op) {
    case 'seal':
      for (let i = 0; i < n; i++) sink ^= barrier.seal(plaintext, ctx).length;
      break;
    case 'open':
      for (let i = 0; i < n; i++) sink ^= barrier.open(sealed, ctx).length;
      break;
    case 'raw_seal':
      for (let i = 0; i < n; i++) sink ^= rawSeal(plaintext).length;
      break;
    case 'raw_open':
      for (let i = 0; i < n; i++) sink ^= rawOpen(rawSealed).length;
      break;
    // The barrier's AAD alone (same parts as barrier.ts builds), to attribute the overhead.
    case 'aad':
      for (let i = 0; i < n; i++)
        sink ^= encodeAad(['strongroom/barrier', 1, 1, ctx.table, ctx.column, ctx.rowId]).length;
      break;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return n / s;
}

interface Result {
  size: number;
  perS: Record<Op, number>;
}

function measure(size: number): Result {
  const plaintext = randomBytes(size);
  const sealed = barrier.seal(plaintext, ctx);
  const rawSealed = rawSeal(plaintext);
  // Correctness, not timing: both paths must round-trip, and the barrier must refuse another row.
  if (!barrier.open(sealed, ctx).equals(plaintext) || !rawOpen(rawSealed).equals(plaintext))
    throw new Error('round trip failed');
  let refused = false;
  try {
    barrier.open(sealed, { ...ctx, rowId: 'another-row' });
  } catch {
    refused = true;
  }
  if (!refused) throw new Error('barrier opened a value under another row id');

  // Warm-up (JIT, OpenSSL contexts) and calibration: batch size for ~targetMs per op.
  const batch = {} as Record<Op, number>;
  for (const op of OPS) {
    run(op, 2000, plaintext, sealed, rawSealed);
    const rate = run(op, 5000, plaintext, sealed, rawSealed);
    batch[op] = Math.max(1000, Math.round((rate * targetMs) / 1000));
  }
  const samples = Object.fromEntries(OPS.map((op) => [op, [] as number[]])) as Record<Op, number[]>;
  for (let r = 0; r < rounds; r++) {
    // Rotate the order each round so no operation always runs first (or last) in a round.
    for (let k = 0; k < OPS.length; k++) {
      const op = OPS[(k + r) % OPS.length]!;
      samples[op].push(run(op, batch[op], plaintext, sealed, rawSealed));
    }
  }
  return { size, perS: Object.fromEntries(OPS.map((op) => [op, median(samples[op])])) as Record<Op, number> };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const results = SIZES.map(measure);

console.log(
  `barrier vs raw AES-256-GCM, node ${process.version}, ${rounds} rounds × ~${targetMs} ms per op, medians (ops/s)`,
);
console.log('');
console.log(
  '| size | barrier seal | raw encrypt | seal ratio | barrier open | raw decrypt | open ratio | seal µs | raw enc µs |',
);
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const { size, perS } of results) {
  console.log(
    `| ${size} B | ${fmt(perS.seal)} | ${fmt(perS.raw_seal)} | ${(perS.seal / perS.raw_seal).toFixed(2)} | ${fmt(perS.open)} | ${fmt(perS.raw_open)} | ${(perS.open / perS.raw_open).toFixed(2)} | ${(1e6 / perS.seal).toFixed(2)} | ${(1e6 / perS.raw_seal).toFixed(2)} |`,
  );
}
console.log('');
for (const { size, perS } of results) {
  const extraSeal = 1e6 / perS.seal - 1e6 / perS.raw_seal;
  const extraOpen = 1e6 / perS.open - 1e6 / perS.raw_open;
  console.log(
    `${size} B: the barrier adds ${extraSeal.toFixed(2)} µs per seal and ${extraOpen.toFixed(2)} µs per open`,
  );
}
console.log(
  `for reference, the barrier's AAD encoding alone (encodeAad, 6 parts): ${(1e6 / results[0]!.perS.aad).toFixed(2)} µs`,
);
console.log('');
if (sink === 0.5) console.log(''); // never true; keeps `sink` live

const small = results[0]!.perS;
console.log(
  `barrier: ratio_vs_raw=${(small.seal / small.raw_seal).toFixed(2)} open_ratio_vs_raw=${(small.open / small.raw_open).toFixed(2)} seal_per_s=${Math.round(small.seal)} open_per_s=${Math.round(small.open)} raw_per_s=${Math.round(small.raw_seal)}`,
);
barrier.sealAndWipe();
