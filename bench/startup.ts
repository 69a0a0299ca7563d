/**
 * Start-to-ready of `strongroom serve` on the embedded defaults: first start (empty data
 * directory: initdb, certificate) and second start (existing data), median of several runs,
 * against a bare `node` start in the same run. Last line:
 *   startup: first_s=… second_s=… node_s=… second_vs_target=…
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, startServe } from '../test/helpers/cli.ts';

/** DESIGN §8: start to ready on the embedded default with an existing data directory, < 2 s. */
const TARGET_S = 2;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeStart(env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const s = await startServe(env, 120_000);
  const dt = (performance.now() - t0) / 1000;
  s.child.kill('SIGTERM');
  await s.exited;
  return dt;
}

const runs = Number(process.argv[2] ?? 5);
const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-bench-startup-'));
try {
  const env = {
    STRONGROOM_HOME: path.join(dir, 'data'),
    STRONGROOM_HTTPS_PORT: String(await freePort()),
    STRONGROOM_HTTP_PORT: String(await freePort()),
    STRONGROOM_METRICS_PORT: 'off',
    STRONGROOM_LOG_LEVEL: 'info',
  };
  const first = await timeStart(env);
  console.log(`first start (empty data directory): ${first.toFixed(2)} s`);
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    seconds.push(await timeStart(env));
    console.log(`second start #${i + 1}: ${seconds.at(-1)!.toFixed(2)} s`);
  }
  const nodes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    nodes.push((performance.now() - t0) / 1000);
  }
  const second = median(seconds);
  console.log(
    `startup: first_s=${first.toFixed(2)} second_s=${second.toFixed(2)} node_s=${median(nodes).toFixed(3)} second_vs_target=${(second / TARGET_S).toFixed(2)}`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
