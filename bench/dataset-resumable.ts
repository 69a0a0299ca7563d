/**
 * Resumable vs streamed uploads through the real CLI, same server, same file, same run.
 *
 * One server in this process (`startTestApp`: PGlite, default local drive, HTTPS on 127.0.0.1
 * port 0) and one file of BENCH_DATASET_MB MiB (default 1024). Per round, in alternating order:
 * - streamed: `strongroom dataset upload … --no-resumable` (one PUT, declared size and SHA-256);
 * - resumable: `strongroom dataset upload … --resumable --parallel 3` (8 MiB parts, then
 *   `complete`, which joins the parts and reads the whole object back to verify it).
 * Both include the CLI's start and its SHA-256 pass over the file. `complete_s` is the time from
 * the CLI's "joining and verifying" line to its exit. Ratios are medians of per-round ratios.
 * Last line:
 *   dataset-resumable: resumable_vs_streamed=… complete_share=… streamed_mbps=… resumable_mbps=…
 *
 * Usage: BENCH_DATASET_MB=1024 BENCH_ROUNDS=3 npm run bench -- dataset-resumable
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestApp } from '../test/helpers/app.ts';
import { ownerSession } from '../test/helpers/identity.ts';
import { cliCredentials } from '../test/helpers/cli.ts';

const MiB = 1024 * 1024;
const BIN = fileURLToPath(new URL('../bin/strongroom.js', import.meta.url));
const sizeMb = Number(process.env.BENCH_DATASET_MB ?? 1024);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function upload(args: string[], env: Record<string, string>): Promise<{ seconds: number; completeSeconds: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let joinAt = 0;
    let stderr = '';
    const child = spawn(process.execPath, [BIN, 'dataset', 'upload', ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
      if (!joinAt && stderr.includes('joining and verifying')) joinAt = performance.now();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const end = performance.now();
      if (code !== 0) return reject(new Error(`upload failed (${code}): ${stderr}`));
      resolve({ seconds: (end - t0) / 1000, completeSeconds: joinAt ? (end - joinAt) / 1000 : 0 });
    });
  });
}

const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'strongroom-bench-resumable-'));
const app = await startTestApp('pglite');
try {
  const { session } = await ownerSession(app, 'bench-resumable@corp.test');
  const env = await cliCredentials(dir, app, session, 'bench-resumable@corp.test');
  const file = path.join(dir, 'input.bin');
  const fh = await open(file, 'w');
  const block = randomBytes(4 * MiB);
  for (let i = 0; i < sizeMb / 4; i++) await fh.write(block);
  await fh.close();
  console.log(`dataset-resumable: ${sizeMb} MiB, ${rounds} round(s)`);

  const ratios: number[] = [];
  const shares: number[] = [];
  const streamedRates: number[] = [];
  const resumableRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const runs: Record<string, { seconds: number; completeSeconds: number }> = {};
    const order = r % 2 === 0 ? ['streamed', 'resumable'] : ['resumable', 'streamed'];
    for (const mode of order) {
      runs[mode] = await upload(
        [
          `bench-${mode}`,
          file,
          mode === 'streamed' ? '--no-resumable' : '--resumable',
          ...(mode === 'resumable' ? ['--parallel', '3'] : []),
        ],
        env,
      );
    }
    const s = runs.streamed!;
    const u = runs.resumable!;
    ratios.push(s.seconds / u.seconds);
    shares.push(u.completeSeconds / u.seconds);
    streamedRates.push(sizeMb / s.seconds);
    resumableRates.push(sizeMb / u.seconds);
    console.log(
      `round ${r + 1}: streamed ${s.seconds.toFixed(2)} s, resumable ${u.seconds.toFixed(2)} s (complete ${u.completeSeconds.toFixed(2)} s)`,
    );
  }
  console.log(
    `dataset-resumable: resumable_vs_streamed=${median(ratios).toFixed(2)} complete_share=${median(shares).toFixed(2)} streamed_mbps=${median(streamedRates).toFixed(0)} resumable_mbps=${median(resumableRates).toFixed(0)}`,
  );
} finally {
  await app.close();
  await rm(dir, { recursive: true, force: true });
}
