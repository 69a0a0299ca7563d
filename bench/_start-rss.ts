/**
 * Second start to ready and idle RSS of `strongroom serve` (the server process alone, from
 * /proc 3 s after ready), the TypeScript sources through tsx (`STRONGROOM_NO_BUILD=1`) against
 * the JavaScript build (`npm run build:server` first), alternated twice after one first start.
 * PGlite by default; `PGURL=postgres://…/<empty database>` for PostgreSQL.
 * `node --import tsx bench/_start-rss.ts`
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort, startServe } from '../test/helpers/cli.ts';
const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-rss-'));
const env: Record<string, string> = {
  STRONGROOM_HOME: path.join(dir, 'data'),
  STRONGROOM_HTTPS_PORT: String(await freePort()),
  STRONGROOM_HTTP_PORT: String(await freePort()),
  STRONGROOM_METRICS_PORT: 'off',
};
if (process.env['PGURL']) env['DATABASE_URL'] = process.env['PGURL'];
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const s0 = await startServe(env, 180_000);
s0.child.kill('SIGTERM');
await s0.exited;
for (let i = 0; i < 2; i++)
  for (const mode of ['tsx', 'build']) {
    const e = { ...env, ...(mode === 'tsx' ? { STRONGROOM_NO_BUILD: '1' } : {}) };
    const t0 = performance.now();
    const s = await startServe(e, 180_000);
    const dt = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    console.log(`${mode}: ready ${dt.toFixed(2)} s, idle RSS ${rss(s.child.pid!).toFixed(0)} MiB`);
    s.child.kill('SIGTERM');
    await s.exited;
  }
await rm(dir, { recursive: true, force: true });
