/**
 * Dataset I/O: the object-format engine, file → file, against `age`, and the HTTPS API against a
 * plain HTTPS transfer through the same server, on the same file in the same run.
 *
 * Engine part (`runEngineBench`): one test file of BENCH_DATASET_MB MiB (default 2048) of
 * random-looking bytes in a temp dir, then per round, in rotated order:
 * - plain: Node stream copy (read 4 MiB chunks → write), the floor any streaming path pays;
 * - engine_up / engine_down: `createEncryptStream` / `createDecryptStream` (with
 *   `overwriteInput`: the plaintext is written over the fresh read buffers) in a stream
 *   pipeline between the same file streams (decrypted output's SHA-256 checked);
 * - age_up / age_down: `age -r <X25519 recipient>` / `age -d -i <identity>` (Debian `age`);
 * - rclone_up / rclone_down: an rclone `crypt` remote over a local directory, if rclone is
 *   installed (for the record; skipped with a note otherwise).
 * Ratios are medians of per-round ratios (engine rate / age rate), so machine drift hits both.
 * Every decrypted output is checked against the source's SHA-256 (untimed) and removed.
 * Peak RSS is sampled every 20 ms during the engine runs.
 *
 * API part (`runApiBench`), same run, same file: one server in this process (`startTestApp`:
 * PGlite, default local drive, HTTPS on 127.0.0.1 port 0) with bench-only plain routes beside the
 * real ones (`extraRoutes`, public): PUT /bench/plain/:id writes the raw body to a file in the
 * data dir with the local drive's 1 MiB write buffer and fdatasync (as the drive does);
 * GET /bench/plain/:id streams it back with fs.createReadStream. The client is a child process
 * (bench/_dataset-io-client.ts, one keep-alive connection), so this process's RSS is the server's
 * (plus the harness and PGlite, which dominate the baseline). Per round, uploads then downloads,
 * each pair in alternating order: API upload (`PUT …/datasets/bench/versions`, declared size
 * and SHA-256) vs plain upload; API download (`GET …/versions/<v>/content` to a file) vs plain
 * download; every download's SHA-256 is checked untimed. Ratios are medians of per-round ratios
 * (plain seconds / API seconds); rss_mb is the peak RSS of this (the server's) process during
 * the API transfers, rss_stream_delta_mb the largest rise above the RSS just before a transfer
 * (what streaming adds: the idle server on PGlite alone holds ~600 MiB). The server's CPU
 * seconds per transfer are printed too (robust to a busy machine where wall time is not).
 * BENCH_DB=postgres runs the server on PostgreSQL (STRONGROOM_TEST_PG_URL, default
 * 127.0.0.1:5432) instead of PGlite. DESIGN §8's memory target is for 4 GiB: BENCH_DATASET_MB=4096.
 * Last line:
 *   dataset-io: engine_up_vs_age=… engine_down_vs_age=… api_up_vs_plain=… api_down_vs_plain=… rss_mb=… rss_stream_delta_mb=…
 *
 * Usage: BENCH_DATASET_MB=2048 BENCH_ROUNDS=3 [BENCH_DIR=/dev/shm] [BENCH_DB=postgres] npm run bench -- dataset-io
 * (BENCH_DIR: where the temp dir goes, default the OS temp dir; the inputs take 4 × the size;
 * the API part's server keeps its data dir, with up to 2 × the size, in the OS temp dir.)
 * Engine line: dataset-io-engine: engine_up_vs_age=… engine_down_vs_age=… engine_up_gbps=… engine_down_gbps=… …
 */
import { execFile, fork } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { createDecryptStream, createEncryptStream, type ObjectKeyParams } from '../src/core/crypto/object-format.ts';
import type { ClientJob, ClientReply } from './_dataset-io-client.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;
/**
 * Read chunk and write buffer size: MiB-sized, since a Node stream pays per chunk (DESIGN §8).
 * Measured here: 2 MiB reads cost the least CPU (4 MiB buffers are mmap'd and page-faulted
 * afresh per read); the writer's highWaterMark must exceed one chunk's output, or pipe() waits
 * for every 64 KiB segment to be written on its own before sending the next.
 */
export const IO_CHUNK = 2 * MiB;
const WRITE_BUFFER = 4 * MiB;

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Writes `bytes` of random-looking data fast: one 4 MiB random block, re-keyed per block by
 * stamping the block number into every 4 KiB (no two blocks alike, nothing compressible
 * at the scale the ciphers see). Returns the SHA-256 of what was written.
 */
export async function makeTestFile(file: string, bytes: number): Promise<Buffer> {
  const base = randomBytes(IO_CHUNK);
  const hash = createHash('sha256');
  const fh = await open(file, 'w');
  try {
    for (let off = 0, block = 0; off < bytes; off += IO_CHUNK, block++) {
      const n = Math.min(IO_CHUNK, bytes - off);
      const buf = Buffer.from(base.subarray(0, n));
      for (let p = 0; p + 8 <= n; p += 4096) buf.writeUInt32BE(block, p);
      hash.update(buf);
      await fh.write(buf);
    }
  } finally {
    await fh.close();
  }
  return hash.digest();
}

export async function sha256File(file: string): Promise<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: IO_CHUNK })) hash.update(chunk as Buffer);
  return hash.digest();
}

/**
 * Runs `work` and returns seconds taken. The output is removed before (no run overwrites a file)
 * and, unless `keep`, after (so the temp dir holds only the inputs between runs).
 */
export async function timed(out: string | undefined, work: () => Promise<unknown>, keep = false): Promise<number> {
  if (out) await rm(out, { force: true, recursive: true });
  const t0 = performance.now();
  await work();
  const s = (performance.now() - t0) / 1000;
  if (out && !keep) await rm(out, { force: true, recursive: true });
  return s;
}

/** Samples RSS every `ms` while running `work`; returns [result, peak RSS in bytes]. */
export async function withPeakRss<T>(work: () => Promise<T>, ms = 20): Promise<[T, number]> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, ms);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return [result, peak];
  } finally {
    clearInterval(timer);
  }
}

export const plainCopy = (src: string, dst: string) =>
  pipeline(createReadStream(src, { highWaterMark: IO_CHUNK }), createWriteStream(dst, { highWaterMark: WRITE_BUFFER }));

export const engineEncryptFile = (src: string, dst: string, params: ObjectKeyParams & { keyTerm: number }) =>
  pipeline(
    createReadStream(src, { highWaterMark: IO_CHUNK }),
    createEncryptStream(params),
    createWriteStream(dst, { highWaterMark: WRITE_BUFFER }),
  );

/** fs read streams hand over fresh buffers, so the decrypt stream may write the plaintext over them (`overwriteInput`). */
export const engineDecryptFile = (src: string, dst: string, params: ObjectKeyParams) =>
  pipeline(
    createReadStream(src, { highWaterMark: IO_CHUNK }),
    createDecryptStream(params, { overwriteInput: true }),
    createWriteStream(dst, { highWaterMark: WRITE_BUFFER }),
  );

async function has(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/** `age` with a passphrase-less X25519 identity made by `age-keygen` in `dir`. */
export async function setupAge(dir: string) {
  if (!(await has('age')) || !(await has('age-keygen'))) return undefined;
  const identity = path.join(dir, 'age-identity.txt');
  await run('age-keygen', ['-o', identity]);
  const recipient = (await run('age-keygen', ['-y', identity])).stdout.trim();
  return {
    encrypt: (src: string, dst: string) => run('age', ['-r', recipient, '-o', dst, src]),
    decrypt: (src: string, dst: string) => run('age', ['-d', '-i', identity, '-o', dst, src]),
  };
}

/** An rclone `crypt` remote (file names unencrypted) over `dir/rclone`, configured by environment only. */
export async function setupRclone(dir: string) {
  if (!(await has('rclone'))) return undefined;
  const password = (await run('rclone', ['obscure', randomBytes(16).toString('hex')])).stdout.trim();
  const config = path.join(dir, 'rclone.conf');
  await writeFile(config, '');
  const env = {
    ...process.env,
    RCLONE_CONFIG: config,
    RCLONE_CONFIG_SRBENCH_TYPE: 'crypt',
    RCLONE_CONFIG_SRBENCH_REMOTE: path.join(dir, 'rclone'),
    RCLONE_CONFIG_SRBENCH_PASSWORD: password,
    RCLONE_CONFIG_SRBENCH_FILENAME_ENCRYPTION: 'off',
    RCLONE_CONFIG_SRBENCH_DIRECTORY_NAME_ENCRYPTION: 'false',
  };
  const opts = { env, maxBuffer: 1 << 20 };
  return {
    encrypt: (src: string) => run('rclone', ['copyto', '--no-check-dest', src, 'srbench:data.bin'], opts),
    decrypt: (dst: string) => run('rclone', ['copyto', '--no-check-dest', 'srbench:data.bin', dst], opts),
  };
}

export interface EngineFigures {
  sizeBytes: number;
  rounds: number;
  /** Median seconds per operation. */
  seconds: Record<string, number>;
  engineUpVsAge: number;
  engineDownVsAge: number;
  engineUpVsPlain: number;
  engineDownVsPlain: number;
  peakRssBytes: number;
  /** RSS just before the timed rounds (test file written, modules loaded). */
  baselineRssBytes: number;
  notes: string[];
}

/** The engine part: plain copy, engine, age (and rclone) on one file, `rounds` rotated rounds. */
export async function runEngineBench(opts: {
  sizeMb: number;
  rounds: number;
  dir: string;
  log?: (line: string) => void;
}): Promise<EngineFigures> {
  const { dir, rounds } = opts;
  const log = opts.log ?? (() => {});
  const size = opts.sizeMb * MiB;
  const src = path.join(dir, 'plain.bin');
  const file = (name: string) => path.join(dir, name);
  const notes: string[] = [];
  const t0 = performance.now();
  const srcSha = await makeTestFile(src, size);
  log(`test file: ${opts.sizeMb} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const params = { dataKey: randomBytes(32), workspaceId: 'ws_bench', objectId: 'obj_bench', keyTerm: 1 };
  const age = await setupAge(dir);
  if (!age) throw new Error('age is not installed (apt-get install -y age)');
  const rclone = await setupRclone(dir);
  if (!rclone) notes.push('rclone not installed: rclone crypt skipped');

  // Seed the ciphertexts the decrypt operations read.
  await engineEncryptFile(src, file('engine.enc'), params);
  await age.encrypt(src, file('age.enc'));
  if (rclone) await rclone.encrypt(src);

  /** Times a decryption, then (untimed) checks its output is the source file and removes it. */
  const checked = async (out: string, work: () => Promise<unknown>) => {
    const s = await timed(out, work, true);
    if (!(await sha256File(out)).equals(srcSha)) throw new Error(`${path.basename(out)}: round trip changed the bytes`);
    await rm(out, { force: true });
    return s;
  };
  const baselineRss = process.memoryUsage.rss();
  let peakRss = 0;
  const engine = async (work: () => Promise<unknown>) => {
    const [, peak] = await withPeakRss(work);
    peakRss = Math.max(peakRss, peak);
  };
  const ops: Record<string, () => Promise<number>> = {
    plain: () => timed(file('plain.copy'), () => plainCopy(src, file('plain.copy'))),
    // Encrypt outputs are kept: they are the next decrypt's input.
    engine_up: () =>
      timed(file('engine.enc'), () => engine(() => engineEncryptFile(src, file('engine.enc'), params)), true),
    engine_down: () =>
      checked(file('engine.dec'), () =>
        engine(() => engineDecryptFile(file('engine.enc'), file('engine.dec'), params)),
      ),
    age_up: () => timed(file('age.enc'), () => age.encrypt(src, file('age.enc')), true),
    age_down: () => checked(file('age.dec'), () => age.decrypt(file('age.enc'), file('age.dec'))),
    ...(rclone
      ? {
          rclone_up: () => timed(file('rclone'), () => rclone.encrypt(src), true),
          rclone_down: () => checked(file('rclone.dec'), () => rclone.decrypt(file('rclone.dec'))),
        }
      : {}),
  };
  const names = Object.keys(ops);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const upRatios: number[] = [];
  const downRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const round: Record<string, number> = {};
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length]!;
      round[name] = await ops[name]!();
      samples[name]!.push(round[name]);
    }
    upRatios.push(round.age_up! / round.engine_up!);
    downRatios.push(round.age_down! / round.engine_down!);
    log(`round ${r + 1}: ${names.map((n) => `${n}=${(size / round[n]! / 1e9).toFixed(2)}GB/s`).join(' ')}`);
  }
  const seconds = Object.fromEntries(names.map((n) => [n, median(samples[n]!)]));
  return {
    sizeBytes: size,
    rounds,
    seconds,
    notes,
    peakRssBytes: peakRss,
    baselineRssBytes: baselineRss,
    engineUpVsAge: median(upRatios),
    engineDownVsAge: median(downRatios),
    engineUpVsPlain: seconds.plain! / seconds.engine_up!,
    engineDownVsPlain: seconds.plain! / seconds.engine_down!,
  };
}

/** The engine's summary line. */
export function engineLine(f: EngineFigures): string {
  const gbps = (op: string) => (f.seconds[op] ? (f.sizeBytes / f.seconds[op] / 1e9).toFixed(2) : 'n/a');
  return (
    `dataset-io-engine: engine_up_vs_age=${f.engineUpVsAge.toFixed(2)} engine_down_vs_age=${f.engineDownVsAge.toFixed(2)}` +
    ` engine_up_gbps=${gbps('engine_up')} engine_down_gbps=${gbps('engine_down')} age_up_gbps=${gbps('age_up')} age_down_gbps=${gbps('age_down')}` +
    ` plain_gbps=${gbps('plain')} rclone_up_gbps=${gbps('rclone_up')} rclone_down_gbps=${gbps('rclone_down')}` +
    ` engine_rss_mb=${Math.round(f.peakRssBytes / MiB)} baseline_rss_mb=${Math.round(f.baselineRssBytes / MiB)}`
  );
}

/** Write buffer of the plain bench route: the local drive's write stream uses 1 MiB (src/adapters/blob/local.ts). */
const DRIVE_WRITE_BUFFER = 1 << 20;

/**
 * The bench-only plain routes, registered through `extraRoutes`: the same server, TLS, body
 * handling and disk, without session, Cedar, audit or encryption.
 * - PUT /bench/plain/:id: the raw body → `<dir>/<id>` through a write stream with the local
 *   drive's write buffer, then fdatasync (the local drive syncs every object before it exists);
 *   answers the server-side split between receiving+writing and syncing.
 * - GET /bench/plain/:id: `fs.createReadStream` (1 MiB reads, like the drive's `get`).
 */
export function plainRoutes(dirOf: () => string) {
  return (scope: FastifyInstance) => {
    const access = { access: { public: 'bench only: plain HTTPS transfer baseline (bench/dataset-io.ts)' } };
    const fileOf = (id: string) => {
      if (!/^[a-z0-9-]{1,32}$/.test(id)) throw new Error('bad id');
      return path.join(dirOf(), id);
    };
    // The pipeline already passes octet-stream bodies through as a stream; older trees did not.
    if (!scope.hasContentTypeParser('application/octet-stream'))
      scope.addContentTypeParser(
        'application/octet-stream',
        { bodyLimit: Number.MAX_SAFE_INTEGER },
        (_req, payload, done) => done(null, payload),
      );
    scope.put<{ Params: { id: string } }>(
      '/bench/plain/:id',
      { bodyLimit: Number.MAX_SAFE_INTEGER, config: access },
      async (request, reply) => {
        const file = fileOf(request.params.id);
        const t0 = performance.now();
        await pipeline(
          request.body as Readable,
          createWriteStream(file, { highWaterMark: DRIVE_WRITE_BUFFER, mode: 0o600 }),
        );
        const t1 = performance.now();
        const fh = await open(file, 'r');
        try {
          await fh.datasync();
        } finally {
          await fh.close();
        }
        return reply
          .code(201)
          .send({ size: (await stat(file)).size, writeMs: t1 - t0, syncMs: performance.now() - t1 });
      },
    );
    scope.get<{ Params: { id: string } }>('/bench/plain/:id', { config: access }, async (request, reply) => {
      const file = fileOf(request.params.id);
      const { size } = await stat(file);
      return reply
        .header('content-type', 'application/octet-stream')
        .header('content-length', String(size))
        .send(createReadStream(file, { highWaterMark: DRIVE_WRITE_BUFFER }));
    });
  };
}

/** The forked HTTPS client (bench/_dataset-io-client.ts): one job at a time over one keep-alive connection. */
export async function startClient(ca: string) {
  const child = fork(fileURLToPath(new URL('./_dataset-io-client.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_CA: ca },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const waiting = new Map<number, (r: ClientReply) => void>();
  child.on('message', (r: ClientReply) => {
    waiting.get(r.id)?.(r);
    waiting.delete(r.id);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const send = (job: Omit<ClientJob, 'id'>) =>
    new Promise<ClientReply>((resolve, reject) => {
      const id = next++;
      waiting.set(id, resolve);
      child.send({ ...job, id } satisfies ClientJob, (err) => err && reject(err));
      void exited.then(() => reject(new Error('the bench client exited')));
    });
  return {
    send,
    async stop() {
      child.disconnect();
      await exited;
    },
  };
}

export interface ApiFigures {
  /** Median seconds per operation: api_up, plain_up, api_down, plain_down. */
  seconds: Record<string, number>;
  /**
   * Median CPU seconds (user + system) the server process spent per operation: less sensitive
   * than wall time to other work on a shared machine, and it shows what the API path costs.
   */
  serverCpuSeconds: Record<string, number>;
  /** The database the server ran on. */
  backend: 'pglite' | 'postgres';
  apiUpVsPlain: number;
  apiDownVsPlain: number;
  /** Peak RSS of this process (the server; the client is a child) during the API transfers. */
  peakRssBytes: number;
  /** RSS of this process once the server is up and signed in, before the transfers. */
  baselineRssBytes: number;
  /**
   * Largest rise of RSS above the RSS just before an API transfer, during that transfer: what
   * streaming the file adds, without the idle server (PGlite alone holds ~600 MiB).
   */
  streamDeltaRssBytes: number;
  /** Peak RSS of the client child process. */
  clientRssBytes: number;
  /** Server-side split of the plain upload (medians, seconds): body → file, fdatasync. */
  plainWriteS: number;
  plainSyncS: number;
}

/**
 * The API part: one server (PGlite, default local drive, HTTPS on 127.0.0.1, port 0) with the
 * plain routes beside the real ones; per round, uploads then downloads, each pair in alternating
 * order: the API upload (`PUT …/datasets/bench/versions`, declared size and SHA-256) against the
 * plain upload, the API download (`GET …/versions/<v>/content`) against the plain download.
 * Ratios are medians of per-round ratios; every download is checked against the source
 * SHA-256 (untimed) and removed, and each round's version is deleted after its download.
 */
export async function runApiBench(opts: {
  src: string;
  srcSha: Buffer;
  sizeBytes: number;
  rounds: number;
  dir: string;
  /** The server's database: embedded PGlite (default) or PostgreSQL (STRONGROOM_TEST_PG_URL, default 127.0.0.1:5432). */
  backend?: 'pglite' | 'postgres';
  log?: (line: string) => void;
  /** Called after each transfer with its name, start and end (process.hrtime.bigint()), e.g. to slice a CPU profile. */
  onOp?: (name: string, start: bigint, end: bigint) => void;
}): Promise<ApiFigures> {
  const { src, srcSha, sizeBytes: size, rounds, dir } = opts;
  const backend = opts.backend ?? 'pglite';
  const log = opts.log ?? (() => {});
  const { startTestApp } = await import('../test/helpers/app.ts');
  const { ownerSession } = await import('../test/helpers/identity.ts');
  let plainDir = '';
  const app = await startTestApp(backend, {
    env: { STRONGROOM_LOG_LEVEL: 'warn', STRONGROOM_DRIVE_HEALTH_SECONDS: '0' },
    extraRoutes: plainRoutes(() => plainDir),
  });
  plainDir = path.join(app.home, 'bench-plain');
  await mkdir(plainDir, { mode: 0o700 });
  const client = await startClient(app.ca);
  try {
    const { session } = await ownerSession(app);
    const auth = { cookie: session.cookie, 'x-csrf-token': session.csrf };
    const ds = `${app.base}/api/v1/workspaces/default/datasets/bench`;
    const ok = (what: string, r: ClientReply, status: number) => {
      if (r.status !== status) throw new Error(`${what}: ${r.error ?? `${r.status} ${r.body?.slice(0, 300)}`}`);
      return r;
    };
    ok('warm-up', await client.send({ op: 'ping', url: `${app.base}/healthz` }), 200);
    const out = path.join(dir, 'download.bin');
    const checked = async (what: string, r: ClientReply) => {
      ok(what, r, 200);
      if (!(await sha256File(out)).equals(srcSha))
        throw new Error(`${what}: the downloaded bytes differ from the source`);
      await rm(out, { force: true });
      return r.seconds;
    };

    const baselineRss = process.memoryUsage.rss();
    let peakRss = 0;
    let streamDelta = 0;
    let clientRss = 0;
    const cpuSamples: Record<string, number[]> = {};
    /** Runs one transfer; records the server's CPU seconds spent on it (the untimed SHA-256 checks are left out). */
    const transfer = async (name: string, work: () => Promise<ClientReply>) => {
      const start = process.hrtime.bigint();
      const cpu0 = process.cpuUsage();
      const r = await work();
      const cpu = process.cpuUsage(cpu0);
      opts.onOp?.(name, start, process.hrtime.bigint());
      (cpuSamples[name] ??= []).push((cpu.user + cpu.system) / 1e6);
      return r;
    };
    const api = async (name: string, work: () => Promise<ClientReply>) => {
      const before = process.memoryUsage.rss();
      const [r, peak] = await withPeakRss(() => transfer(name, work));
      peakRss = Math.max(peakRss, peak);
      streamDelta = Math.max(streamDelta, peak - before);
      clientRss = Math.max(clientRss, r.maxRssBytes);
      return r;
    };
    let version = 0;
    const plainWrite: number[] = [];
    const plainSync: number[] = [];
    const ops: Record<string, () => Promise<number>> = {
      api_up: async () => {
        const r = ok(
          'API upload',
          await api('api_up', () =>
            client.send({
              op: 'up',
              url: `${ds}/versions?size=${size}&sha256=${srcSha.toString('hex')}`,
              headers: auth,
              file: src,
            }),
          ),
          201,
        );
        version = (JSON.parse(r.body!) as { version: { version: number } }).version.version;
        return r.seconds;
      },
      plain_up: async () => {
        const r = ok(
          'plain upload',
          await transfer('plain_up', () => client.send({ op: 'up', url: `${app.base}/bench/plain/data`, file: src })),
          201,
        );
        const split = JSON.parse(r.body!) as { size: number; writeMs: number; syncMs: number };
        if (split.size !== size) throw new Error(`plain upload stored ${split.size} bytes`);
        plainWrite.push(split.writeMs / 1000);
        plainSync.push(split.syncMs / 1000);
        return r.seconds;
      },
      api_down: async () =>
        checked(
          'API download',
          await api('api_down', () =>
            client.send({ op: 'down', url: `${ds}/versions/${version}/content`, headers: auth, out }),
          ),
        ),
      plain_down: async () =>
        checked(
          'plain download',
          await transfer('plain_down', () => client.send({ op: 'down', url: `${app.base}/bench/plain/data`, out })),
        ),
    };
    const names = Object.keys(ops);
    const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const upRatios: number[] = [];
    const downRatios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order =
        r % 2 === 0
          ? ['api_up', 'plain_up', 'api_down', 'plain_down']
          : ['plain_up', 'api_up', 'plain_down', 'api_down'];
      const round: Record<string, number> = {};
      for (const name of order) {
        round[name] = await ops[name]!();
        samples[name]!.push(round[name]);
      }
      upRatios.push(round.plain_up! / round.api_up!);
      downRatios.push(round.plain_down! / round.api_down!);
      const del = await session.req(`/api/v1/workspaces/default/datasets/bench/versions/${version}`, {
        method: 'DELETE',
      });
      if (del.status !== 200) throw new Error(`delete version ${version}: ${del.status} ${del.body}`);
      log(`api round ${r + 1}: ${order.map((n) => `${n}=${(size / round[n]! / 1e9).toFixed(2)}GB/s`).join(' ')}`);
    }
    return {
      seconds: Object.fromEntries(names.map((n) => [n, median(samples[n]!)])),
      serverCpuSeconds: Object.fromEntries(names.map((n) => [n, median(cpuSamples[n]!)])),
      backend,
      apiUpVsPlain: median(upRatios),
      apiDownVsPlain: median(downRatios),
      peakRssBytes: peakRss,
      baselineRssBytes: baselineRss,
      streamDeltaRssBytes: streamDelta,
      clientRssBytes: clientRss,
      plainWriteS: median(plainWrite),
      plainSyncS: median(plainSync),
    };
  } finally {
    await client.stop();
    await app.close();
  }
}

async function main(): Promise<void> {
  const sizeMb = Number(process.env.BENCH_DATASET_MB ?? 2048);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'strongroom-dataset-io-'));
  try {
    console.log(
      `dataset-io engine, node ${process.version}, ${sizeMb} MiB, ${rounds} rounds (rotated order), I/O chunks ${IO_CHUNK / MiB} MiB`,
    );
    const f = await runEngineBench({ sizeMb, rounds, dir, log: (l) => console.log(l) });
    console.log('');
    console.log('| operation | median s | GB/s |');
    console.log('|---|---:|---:|');
    for (const [op, s] of Object.entries(f.seconds))
      console.log(`| ${op} | ${s.toFixed(2)} | ${(f.sizeBytes / s / 1e9).toFixed(2)} |`);
    console.log('');
    for (const note of f.notes) console.log(`note: ${note}`);
    console.log(
      `engine vs plain copy: up ${f.engineUpVsPlain.toFixed(2)}×, down ${f.engineDownVsPlain.toFixed(2)}×; peak RSS during engine runs ${Math.round(f.peakRssBytes / MiB)} MiB`,
    );
    console.log(engineLine(f));

    // The API part, on the same source file (the engine's ciphertexts are no longer needed).
    for (const leftover of ['engine.enc', 'age.enc', 'rclone'])
      await rm(path.join(dir, leftover), { recursive: true, force: true });
    const src = path.join(dir, 'plain.bin');
    const srcSha = await sha256File(src);
    console.log('');
    const backend = process.env.BENCH_DB === 'postgres' ? 'postgres' : 'pglite';
    console.log(
      `dataset-io API: one HTTPS server in this process (${backend === 'postgres' ? 'PostgreSQL' : 'PGlite'}, default local drive, 127.0.0.1), client in a child process over one keep-alive connection; ${rounds} rounds, pair order alternating`,
    );
    const a = await runApiBench({
      src,
      srcSha,
      sizeBytes: f.sizeBytes,
      rounds,
      dir,
      backend,
      log: (l) => console.log(l),
    });
    const gbps = (op: string) => (f.sizeBytes / a.seconds[op]! / 1e9).toFixed(2);
    console.log(
      `api medians: api_up=${gbps('api_up')}GB/s plain_up=${gbps('plain_up')}GB/s api_down=${gbps('api_down')}GB/s plain_down=${gbps('plain_down')}GB/s`,
    );
    console.log(
      `plain upload, server side (medians): body → file ${a.plainWriteS.toFixed(2)} s, fdatasync ${a.plainSyncS.toFixed(2)} s`,
    );
    const cpuPerGb = (op: string) => (a.serverCpuSeconds[op]! / (f.sizeBytes / 1e9)).toFixed(2);
    console.log(
      `server CPU per GB (medians, user+system s/GB): api_up=${cpuPerGb('api_up')} plain_up=${cpuPerGb('plain_up')} api_down=${cpuPerGb('api_down')} plain_down=${cpuPerGb('plain_down')}`,
    );
    console.log(
      `RSS: server process peak ${Math.round(a.peakRssBytes / MiB)} MiB during the API transfers (${Math.round(a.baselineRssBytes / MiB)} MiB before them, on ${a.backend}; the server shares this process with the bench harness${a.backend === 'pglite' ? ' and PGlite' : ''}), at most ${Math.round(a.streamDeltaRssBytes / MiB)} MiB above the RSS before a transfer; client child peak ${Math.round(a.clientRssBytes / MiB)} MiB; DESIGN §8 target < 250 MB for a 4 GiB file (BENCH_DATASET_MB=4096)`,
    );
    console.log(
      `dataset-io: engine_up_vs_age=${f.engineUpVsAge.toFixed(2)} engine_down_vs_age=${f.engineDownVsAge.toFixed(2)} api_up_vs_plain=${a.apiUpVsPlain.toFixed(2)} api_down_vs_plain=${a.apiDownVsPlain.toFixed(2)} rss_mb=${Math.round(a.peakRssBytes / MiB)} rss_stream_delta_mb=${Math.round(a.streamDeltaRssBytes / MiB)}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
