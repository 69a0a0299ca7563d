/**
 * Profiling aid (issue 22): CPU of the object-format engine alone, in memory (no file or network
 * I/O), per GB, this thread only: encode, decode with `overwriteInput`, decode releasing
 * node:crypto's buffers as they are, and the same AES-256-GCM work done as one cipher per
 * 64 KiB and per 1 MiB piece (what the per-segment calls cost). Then the streams as the server
 * uses them, into a sink that takes what it is given: the encrypt stream fed 16 KiB chunks (a
 * TLS request body) without and with `inputChunkSize`; the decrypt stream fed 1 MiB fresh
 * chunks (the local drive's reads) releasing node:crypto's buffers as they are, and with
 * `overwriteInput` — with the number of chunks the sink received per GiB (what a response would
 * write to TLS). Variants alternate per round; medians of this thread's CPU.
 *
 * Usage: node --import tsx bench/_engine-cpu.ts [MiB=256] [rounds=3]
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  INPUT_GATHER_SIZE,
  ObjectDecoder,
  ObjectEncoder,
  createDecryptStream,
  createEncryptStream,
  createObjectCipher,
  type ObjectStreamOptions,
} from '../src/core/crypto/object-format.ts';

const [mb = 256, rounds = 3] = process.argv.slice(2).map(Number);
const CHUNK = 2 * 1024 * 1024;
const size = mb * 1024 * 1024;
const base = randomBytes(CHUNK);
const params = { dataKey: randomBytes(32), workspaceId: 'ws', objectId: 'obj', keyTerm: 1 };

/** This thread's CPU ms (utime + stime of /proc/thread-self/stat, in clock ticks of 10 ms). */
function threadCpuMs(): number {
  const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

function encodeAll(): Buffer[] {
  const cipher = createObjectCipher(params);
  const enc = new ObjectEncoder(cipher);
  const out: Buffer[] = [];
  for (let off = 0; off < size; off += CHUNK) enc.write(base, out);
  enc.end(out);
  return out;
}
/** The stored object as 2 MiB chunks (what a file read stream hands over). */
function storedChunks(): Buffer[] {
  const whole = Buffer.concat(encodeAll());
  const chunks: Buffer[] = [];
  for (let off = 0; off < whole.length; off += CHUNK) chunks.push(whole.subarray(off, off + CHUNK));
  return chunks;
}
const stored = storedChunks();

const chunkCounts: Record<string, number> = {};
/** A sink that accepts everything (batched, like a socket's writev) and counts the chunks. */
const sink = (name: string) =>
  new Writable({
    highWaterMark: 4 * 1024 * 1024,
    writev(chunks, cb) {
      chunkCounts[name] = (chunkCounts[name] ?? 0) + chunks.length;
      cb();
    },
  });
function* pieces(piece: number): Generator<Buffer> {
  for (let off = 0; off < size; off += piece) yield base.subarray(off % CHUNK, (off % CHUNK) + piece);
}
const encStream = (name: string, inputChunkSize: number) => () =>
  pipeline(
    Readable.from(pieces(16 * 1024)),
    createEncryptStream(params, { hashPlaintext: true, inputChunkSize }),
    sink(name),
  );
const stored1m: Buffer[] = [];
{
  const whole = Buffer.concat(stored);
  for (let off = 0; off < whole.length; off += 1024 * 1024) stored1m.push(whole.subarray(off, off + 1024 * 1024));
}
const decStream = (name: string, opts: ObjectStreamOptions) => () =>
  pipeline(
    Readable.from(
      (function* () {
        for (const c of stored1m) yield Buffer.from(c);
      })(),
    ),
    createDecryptStream(params, opts),
    sink(name),
  );

const variants: Record<string, () => unknown> = {
  stream_enc_16k: encStream('stream_enc_16k', 0),
  stream_enc_16k_gathered: encStream('stream_enc_16k_gathered', INPUT_GATHER_SIZE),
  stream_dec_1m: decStream('stream_dec_1m', {}),
  stream_dec_1m_overwrite: decStream('stream_dec_1m_overwrite', { overwriteInput: true }),
  encode: () => {
    encodeAll();
  },
  decode_overwrite: () => {
    const copies = stored.map((c) => Buffer.from(c)); // fresh input, as from a read stream
    const dec = new ObjectDecoder({ params }, { overwriteInput: true });
    const out: Buffer[] = [];
    for (const c of copies) {
      dec.write(c, out);
      out.length = 0;
    }
    dec.end(out);
  },
  decode_plain_out: () => {
    const copies = stored.map((c) => Buffer.from(c));
    const dec = new ObjectDecoder({ params });
    const out: Buffer[] = [];
    for (const c of copies) {
      dec.write(c, out);
      out.length = 0;
    }
    dec.end(out);
  },
  input_copy_only: () => {
    stored.map((c) => Buffer.from(c));
  },
  gcm_64k: () => gcm(64 * 1024),
  gcm_1m: () => gcm(1024 * 1024),
};
function gcm(piece: number) {
  const key = randomBytes(32);
  const iv = Buffer.alloc(12);
  for (let off = 0, i = 0; off < size; off += piece, i++) {
    iv.writeUInt32BE(i, 7);
    const c = createCipheriv('aes-256-gcm', key, iv);
    c.setAAD(key);
    c.update(base.subarray(off % CHUNK, (off % CHUNK) + piece));
    c.final();
    c.getAuthTag();
  }
}

const samples: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of Object.entries(variants)) {
    const c0 = threadCpuMs();
    await run();
    (samples[name] ??= []).push((threadCpuMs() - c0) / 1000 / (size / 1e9));
  }
}
for (const [name, xs] of Object.entries(samples)) {
  xs.sort((a, b) => a - b);
  const chunks = chunkCounts[name]
    ? `, ${Math.round(chunkCounts[name] / rounds / (size / 2 ** 30))} chunks/GiB out`
    : '';
  console.log(
    `${name.padEnd(24)} ${xs[Math.floor(xs.length / 2)]!.toFixed(3)} s/GB (min ${xs[0]!.toFixed(3)})${chunks}`,
  );
}
