/**
 * Profiling aid for a second start of the built command (`npm run build:server` first): one first
 * start creates the data directory, then `rounds` second starts of each checkout given, alternated
 * (before/after in one run), each timed from spawn to the "strongroom ready" log line, with the
 * server's own phase timings (the "start phases" debug line), its RSS 3 s after ready (from /proc,
 * the server process alone) and, with --profile, a CPU profile of the whole start
 * (`/tmp/perf/start-<n>/*.cpuprofile`, written when the server exits).
 * PGlite by default; `PGURL=postgres://…/<empty database>` for PostgreSQL.
 * Usage: node --import tsx bench/_start-profile.ts [rounds=3] [--profile] [--root=/other/checkout …]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, inheritedEnv } from '../test/helpers/cli.ts';

const rounds = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 3);
const profile = process.argv.includes('--profile');
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const roots = process.argv.filter((a) => a.startsWith('--root=')).map((a) => a.slice('--root='.length));
if (roots.length === 0) roots.push(here);

const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-start-'));
const env: Record<string, string> = {
  ...inheritedEnv(),
  STRONGROOM_HOME: path.join(dir, 'data'),
  STRONGROOM_HTTPS_PORT: String(await freePort()),
  STRONGROOM_HTTP_PORT: String(await freePort()),
  STRONGROOM_METRICS_PORT: 'off',
  STRONGROOM_LOG_LEVEL: 'debug',
};
if (process.env['PGURL']) env['DATABASE_URL'] = process.env['PGURL'];
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** User + system CPU seconds of a process so far (all its threads; clock ticks of 1/100 s). */
const cpuSeconds = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
let n = 0;
async function start(root: string, withProfile: boolean, settle: boolean): Promise<string> {
  const args = [path.join(root, 'bin', 'strongroom.js'), 'serve'];
  if (withProfile) args.unshift('--cpu-prof', `--cpu-prof-dir=/tmp/perf/start-${++n}`);
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let phases = '';
  let cpu = 0;
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const ready = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.includes('"start phases"')) phases = JSON.stringify((JSON.parse(line) as { ms: unknown }).ms);
        if (line.includes('"strongroom ready"')) {
          cpu = cpuSeconds(child.pid!);
          resolve((performance.now() - t0) / 1000);
        }
      }
    });
    void exited.then(() => reject(new Error(`serve exited before ready: ${stderr}`)));
  });
  let mem = '';
  if (settle) {
    await new Promise((r) => setTimeout(r, 3000));
    mem = `, idle RSS ${rss(child.pid!).toFixed(0)} MiB`;
  }
  child.kill('SIGTERM');
  await exited;
  return `ready ${ready.toFixed(2)} s (CPU ${cpu.toFixed(2)} s)${mem}${phases ? `; phases (ms) ${phases}` : ''}${withProfile ? ` (profile /tmp/perf/start-${n})` : ''}`;
}

try {
  console.log(`first start: ${await start(roots[0]!, false, false)}`);
  for (let r = 0; r < rounds; r++)
    for (const root of roots) console.log(`${root}: ${await start(root, profile && r === 0, true)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
