/**
 * Profiling aid (issue 22): what the segment size costs the engine, in memory (no file or
 * network I/O), in one process with the sizes alternated per round. For each segment size
 * (KiB, default 64,256,1024) it runs the streams as the server and the engine bench use them,
 * into a sink that takes what it is given:
 * - enc_16k_gathered: plaintext in 16 KiB chunks (a TLS request body), `inputChunkSize` 1 MiB,
 *   with the SHA-256 of the plaintext (the API upload);
 * - enc_2m: plaintext in 2 MiB chunks (a file read stream: the engine bench's upload);
 * - dec_1m_overwrite: the stored object in fresh 1 MiB chunks (the local drive's reads),
 *   `overwriteInput` (the API download);
 * - dec_reused_read: the stored object read one sealed segment at a time (after the 85-byte
 *   header) into one reused buffer, node:crypto's plaintext handed on as it is — what a download
 *   would cost that allocates no read buffers (a copy stands for the file read);
 * - dec_2m_overwrite: the same as dec_1m_overwrite in fresh 2 MiB chunks (the engine bench's download).
 * Prints per variant and size the median of this thread's CPU (s/GB, from /proc), the median
 * wall time (GB/s) and the chunks the sink received per GiB; then each size's CPU as a ratio of
 * 64 KiB's, per round, median.
 * With `--files`: instead, the `dataset-io` engine part's file → file encrypt and decrypt
 * (bench/dataset-io.ts `engineEncryptFile` / `engineDecryptFile`, in BENCH_DIR or the OS temp
 * dir) per segment size, and `age` both ways, all in each round (order alternating): per size
 * the median of the per-round ratios age seconds / engine seconds, as the bench reports them, and
 * the same ratio of CPU seconds (this process's, all threads, for the engine; the waited-for
 * child's for `age`): on a busy machine the CPU ratio holds where wall time does not.
 *
 * Usage: node --import tsx bench/_segment-size.ts [MiB=512] [rounds=5] [sizesKiB=64,256,1024] [--files]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  INPUT_GATHER_SIZE,
  ObjectDecoder,
  createDecryptStream,
  createEncryptStream,
} from '../src/core/crypto/object-format.ts';
import { engineDecryptFile, engineEncryptFile, makeTestFile, median, setupAge, timed } from './dataset-io.ts';

const files = process.argv.includes('--files');
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const mb = Number(args[0] ?? 512);
const rounds = Number(args[1] ?? 5);
const sizesKib = (args[2] ?? '64,256,1024').split(',').map(Number);
const size = mb * 1024 * 1024;
const BASE = 2 * 1024 * 1024;
const base = randomBytes(BASE);
const key = { dataKey: randomBytes(32), workspaceId: 'ws', objectId: 'obj', keyTerm: 1 };

/** This process's CPU ms and its waited-for children's (utime + stime, cutime + cstime of /proc/self/stat). */
function processCpuMs(): { self: number; children: number } {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return { self: (Number(f[11]) + Number(f[12])) * 10, children: (Number(f[13]) + Number(f[14])) * 10 };
}

/** This thread's CPU ms (utime + stime of /proc/thread-self/stat, in clock ticks of 10 ms). */
function threadCpuMs(): number {
  const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

function* plain(piece: number): Generator<Buffer> {
  for (let off = 0; off < size; off += piece) yield base.subarray(off % BASE, (off % BASE) + piece);
}
let received = 0;
const sink = () =>
  new Writable({
    highWaterMark: 4 * 1024 * 1024,
    writev(chunks, cb) {
      received += chunks.length;
      cb();
    },
  });

if (files) {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'strongroom-segment-size-'));
  try {
    const f = (n: string) => path.join(dir, n);
    await makeTestFile(f('plain.bin'), size);
    const age = await setupAge(dir);
    if (!age) throw new Error('age is not installed');
    const ops: Record<string, () => Promise<number>> = {
      age_up: () => timed(f('age.enc'), () => age.encrypt(f('plain.bin'), f('age.enc')), true),
      age_down: () => timed(f('age.dec'), () => age.decrypt(f('age.enc'), f('age.dec'))),
    };
    for (const kib of sizesKib) {
      const p = { ...key, segmentSize: kib * 1024 };
      ops[`up ${kib}K`] = () =>
        timed(f(`${kib}.enc`), () => engineEncryptFile(f('plain.bin'), f(`${kib}.enc`), p), true);
      ops[`down ${kib}K`] = () =>
        timed(f(`${kib}.dec`), () => engineDecryptFile(f(`${kib}.enc`), f(`${kib}.dec`), key));
    }
    await ops.age_up!();
    for (const kib of sizesKib) await ops[`up ${kib}K`]!();
    const names = Object.keys(ops);
    const ratio: Record<string, number[]> = {};
    const cpuRatio: Record<string, number[]> = {};
    const secs: Record<string, number[]> = {};
    const cpus: Record<string, number[]> = {};
    for (let r = 0; r < rounds; r++) {
      const s: Record<string, number> = {};
      const c: Record<string, number> = {};
      for (const n of r % 2 === 0 ? names : [...names].reverse()) {
        const c0 = processCpuMs();
        (secs[n] ??= []).push((s[n] = await ops[n]!()));
        const c1 = processCpuMs();
        const ms = n.startsWith('age') ? c1.children - c0.children : c1.self - c0.self;
        (cpus[n] ??= []).push((c[n] = ms / 1000 / (size / 1e9)));
      }
      for (const kib of sizesKib)
        for (const dir of ['up', 'down'] as const) {
          (ratio[`${dir} ${kib}K`] ??= []).push(s[`age_${dir}`]! / s[`${dir} ${kib}K`]!);
          (cpuRatio[`${dir} ${kib}K`] ??= []).push(c[`age_${dir}`]! / c[`${dir} ${kib}K`]!);
        }
    }
    console.log(`segment-size --files: ${mb} MiB, ${rounds} rounds, sizes ${sizesKib.join('/')} KiB alternated`);
    for (const n of names)
      console.log(
        `${n.padEnd(10)} ${(size / 1e9 / median(secs[n]!)).toFixed(2)} GB/s  cpu ${median(cpus[n]!).toFixed(3)} s/GB${ratio[n] ? `  vs age: wall ${median(ratio[n]).toFixed(2)} (rounds ${ratio[n].map((x) => x.toFixed(2)).join(' ')}), cpu ${median(cpuRatio[n]!).toFixed(2)} (rounds ${cpuRatio[n]!.map((x) => x.toFixed(2)).join(' ')})` : ''}`,
      );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

/** The stored object for each segment size, encrypted once. */
const stored = new Map<number, Buffer>();
for (const kib of sizesKib) {
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from(plain(BASE)),
    createEncryptStream({ ...key, segmentSize: kib * 1024 }),
    new Writable({
      highWaterMark: 4 * 1024 * 1024,
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    }),
  );
  stored.set(kib, Buffer.concat(parts));
}
/** Fresh copies of the stored object in `piece`-byte chunks, as a read stream hands them over. */
function* fresh(whole: Buffer, piece: number): Generator<Buffer> {
  for (let off = 0; off < whole.length; off += piece) yield Buffer.from(whole.subarray(off, off + piece));
}

const variants: Record<string, (kib: number) => Promise<void>> = {
  enc_16k_gathered: (kib) =>
    pipeline(
      Readable.from(plain(16 * 1024)),
      createEncryptStream(
        { ...key, segmentSize: kib * 1024 },
        { hashPlaintext: true, inputChunkSize: INPUT_GATHER_SIZE },
      ),
      sink(),
    ),
  enc_2m: (kib) =>
    pipeline(Readable.from(plain(BASE)), createEncryptStream({ ...key, segmentSize: kib * 1024 }), sink()),
  dec_1m_overwrite: (kib) =>
    pipeline(
      Readable.from(fresh(stored.get(kib)!, 1024 * 1024)),
      createDecryptStream(key, { overwriteInput: true }),
      sink(),
    ),
  // A reader that reads into one reused buffer of one sealed segment (fs.read into it stands as
  // the copy here) and releases node:crypto's plaintext as it is: no read buffer allocated.
  dec_reused_read: async (kib) => {
    const whole = stored.get(kib)!;
    const unit = kib * 1024 + 16;
    const reused = Buffer.allocUnsafe(unit);
    await pipeline(
      Readable.from(
        (function* () {
          const dec = new ObjectDecoder({ params: key });
          for (let off = 0; off < whole.length; off += off === 0 ? 85 : unit) {
            const n = whole.copy(reused, 0, off, off === 0 ? 85 : off + unit);
            const out: Buffer[] = [];
            dec.write(reused.subarray(0, n), out);
            yield* out;
          }
          const out: Buffer[] = [];
          dec.end(out);
          yield* out;
        })(),
      ),
      sink(),
    );
  },
  dec_2m_overwrite: (kib) =>
    pipeline(Readable.from(fresh(stored.get(kib)!, BASE)), createDecryptStream(key, { overwriteInput: true }), sink()),
};

const cpu: Record<string, number[]> = {};
const wall: Record<string, number[]> = {};
const chunks: Record<string, number> = {};
const ratios: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(variants)) {
    const order = r % 2 === 0 ? sizesKib : [...sizesKib].reverse();
    const thisRound: Record<number, number> = {};
    for (const kib of order) {
      const id = `${name} ${kib}K`;
      received = 0;
      const c0 = threadCpuMs();
      const t0 = performance.now();
      await run(kib);
      const s = (threadCpuMs() - c0) / 1000 / (size / 1e9);
      (cpu[id] ??= []).push(s);
      (wall[id] ??= []).push(size / 1e9 / ((performance.now() - t0) / 1000));
      chunks[id] = Math.round(received / (size / 2 ** 30));
      thisRound[kib] = s;
    }
    for (const kib of sizesKib) (ratios[`${name} ${kib}K`] ??= []).push(thisRound[kib]! / thisRound[sizesKib[0]!]!);
  }
}
console.log(`segment-size: ${mb} MiB, ${rounds} rounds, sizes ${sizesKib.join('/')} KiB alternated`);
for (const id of Object.keys(cpu)) {
  console.log(
    `${id.padEnd(24)} cpu ${median(cpu[id]!).toFixed(3)} s/GB  wall ${median(wall[id]!).toFixed(2)} GB/s  ${chunks[id]} chunks/GiB  cpu vs ${sizesKib[0]}K ${median(ratios[id]!).toFixed(2)}`,
  );
}
