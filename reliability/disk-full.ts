/**
 * `npm run reliability -- disk-full [--seed S] [--size-mb N]`: the local drives' root on a small
 * tmpfs (mounted by the suite, as root; unmounted at the end) that is nearly filled. Then:
 *
 * - a streamed upload that does not fit: a 507 problem, no version listed, the space it took
 *   returned (nothing partial left on the filesystem);
 * - a resumable upload whose part does not fit: a 507 problem for the part, the session intact;
 * - a backup to a target on the full drive: refused with a 507 problem or recorded as failed,
 *   never `complete`;
 * - meanwhile reads are served: an earlier version downloads whole, secrets are written and read;
 * - once space is freed: the same upload succeeds, the resumable upload resumes and completes,
 *   a backup completes and verifies, and `audit verify` passes.
 *
 * Ends with `reliability-disk-full: tried=<checks> passed=… failed=… seed=…`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statfsSync, writeFileSync, unlinkSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestApp } from '../test/helpers/app.ts';
import { jsonBody, ownerSession } from '../test/helpers/identity.ts';
import { flag, isMain, rng, summary } from './lib/instance.ts';

const W = '/api/v1/workspaces/default';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const MB = 1024 * 1024;

function usedBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? usedBytes(p) : statSync(p).size;
  }
  return n;
}

export async function runDiskFull(opts: { seed: number; sizeMb: number; log?: (l: string) => void }) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const r = rng(opts.seed);
  const mnt = mkdtempSync(path.join(os.tmpdir(), 'sr-rel-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${opts.sizeMb}m,mode=0700`, 'tmpfs', mnt]);
  const checks: { name: string; problems: string[] }[] = [];
  const check = (name: string, problems: string[]) => {
    checks.push({ name, problems });
    log(`${name}: ${problems.length === 0 ? 'ok' : problems.join('; ')}`);
  };
  const app = await startTestApp('pglite', { env: { STRONGROOM_LOCAL_DRIVE_ROOT: mnt } }).catch((e: unknown) => {
    execFileSync('umount', [mnt]);
    throw e;
  });
  try {
    const owner = (await ownerSession(app)).session;
    const put = (name: string, body: Buffer) =>
      owner.req(`${W}/datasets/${name}/versions?filename=f.bin`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body,
      });
    const isFull = (a: { status: number; headers: Record<string, unknown> }) =>
      a.status === 507 && String(a.headers['content-type']).startsWith('application/problem+json');

    // An earlier version and a backup target, while there is room.
    const early = Buffer.alloc(200 * 1024, `early-${r.int(0, 1e9)}`);
    const e1 = await put('full-early', early);
    if (e1.status !== 201) throw new Error(`setup upload: ${e1.status} ${e1.body}`);
    const target = await app.asOperator('/api/v1/backups/targets', {
      ...jsonBody({ name: 'full', workspace: 'default', drive: 'default', prefix: 'bk' }),
    });
    if (target.status >= 300) throw new Error(`setup target: ${target.status} ${target.body}`);
    const open = await owner.req(`${W}/datasets/full-resumable/uploads`, jsonBody({ size: 3 * MB, filename: 'r.bin' }));
    if (open.status !== 201) throw new Error(`setup open: ${open.status} ${open.body}`);
    const session = open.json<{ id: string; partSize: number; partCount: number }>();
    const resumable = Buffer.alloc(3 * MB, `resumable-${r.int(0, 1e9)}`);

    // Fill the filesystem but for ~1 MB.
    const filler = path.join(mnt, 'filler');
    const free = () => statfsSync(mnt).bavail * statfsSync(mnt).bsize;
    writeFileSync(filler, Buffer.alloc(Math.max(0, free() - MB)));
    log(`filled: ${(free() / 1024).toFixed(0)} KiB free of ${opts.sizeMb} MiB`);

    const big = Buffer.alloc(r.int(3, 5) * MB, `big-${r.int(0, 1e9)}`);
    const before = usedBytes(mnt);
    const a = await put('full-big', big);
    const after = usedBytes(mnt);
    const listed = await owner.req(`${W}/datasets/full-big`);
    check('streamed upload on a full drive', [
      ...(isFull(a) ? [] : [`answered ${a.status} ${a.body.slice(0, 200)}`]),
      ...(listed.status === 404 || listed.json<{ versions: unknown[] }>().versions.length === 0
        ? []
        : ['a version is listed']),
      ...(after <= before ? [] : [`${after - before} bytes left behind on the drive`]),
    ]);

    const parts: string[] = [];
    for (let n = 1; n <= session.partCount; n++) {
      const p = await owner.req(`${W}/datasets/full-resumable/uploads/${session.id}/parts/${n}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: resumable.subarray((n - 1) * session.partSize, n * session.partSize),
      });
      if (p.status === 200) continue;
      if (!isFull(p)) parts.push(`part ${n} answered ${p.status} ${p.body.slice(0, 200)}`);
      break;
    }
    const st = await owner.req(`${W}/datasets/full-resumable/uploads/${session.id}`);
    if (st.status !== 200) parts.push(`the session is gone (${st.status})`);
    else if (st.json<{ received: number[] }>().received.length === session.partCount)
      parts.push('every part fit: the filesystem was not full');
    check('resumable upload part on a full drive', parts);

    // Not a byte left for the backup (its snapshot is small).
    const filler2 = path.join(mnt, 'filler-2');
    writeFileSync(filler2, Buffer.alloc(Math.max(0, free() - 4096)));
    const bk = await app.asOperator('/api/v1/backups', jsonBody({ target: 'full' }));
    if (bk.status >= 500 && bk.status !== 507) log(`  backup answered ${bk.status} ${bk.body.slice(0, 300)}`);
    unlinkSync(filler2);
    const list = await app.asOperator('/api/v1/backups');
    const complete = list
      .json<{ backups: { state: string; target?: string }[] }>()
      .backups.filter((b) => b.state === 'complete');
    check('backup to a full drive', [
      ...(isFull(bk) ? [] : [`answered ${bk.status} ${bk.body.slice(0, 200)}`]),
      ...(complete.length === 0 ? [] : ['a backup on the full drive is recorded complete']),
    ]);

    const d = await owner.req(`${W}/datasets/full-early/versions/1/content`);
    const s = await owner.req(
      `${W}/secrets/data/full/s`,
      jsonBody({ type: 'password', value: { password: 'x1' } }, 'PUT'),
    );
    const rv = await owner.req(`${W}/secrets/reveal/full/s`, { method: 'POST' });
    check('reads and secrets while the drive is full', [
      ...(d.status === 200 && sha(d.raw) === sha(early) ? [] : [`download ${d.status}`]),
      ...(s.status === 201 ? [] : [`secret write ${s.status}`]),
      ...(rv.status === 200 ? [] : [`secret read ${rv.status}`]),
    ]);

    // Space returns.
    unlinkSync(filler);
    const again = await put('full-big', big);
    const got =
      again.status === 201
        ? await owner.req(
            `${W}/datasets/full-big/versions/${again.json<{ version: { version: number } }>().version.version}/content`,
          )
        : undefined;
    check('streamed upload after space is freed', [
      ...(again.status === 201 ? [] : [`answered ${again.status} ${again.body.slice(0, 200)}`]),
      ...(got && sha(got.raw) === sha(big) ? [] : ['download differs']),
    ]);

    const resumed: string[] = [];
    for (let n = 1; n <= session.partCount; n++) {
      const p = await owner.req(`${W}/datasets/full-resumable/uploads/${session.id}/parts/${n}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: resumable.subarray((n - 1) * session.partSize, n * session.partSize),
      });
      if (p.status !== 200) resumed.push(`part ${n}: ${p.status} ${p.body.slice(0, 200)}`);
    }
    const done = await owner.req(`${W}/datasets/full-resumable/uploads/${session.id}/complete`, jsonBody({}));
    if (done.status !== 201) resumed.push(`complete: ${done.status} ${done.body.slice(0, 200)}`);
    else {
      const v = done.json<{ version: { version: number } }>().version.version;
      const dl = await owner.req(`${W}/datasets/full-resumable/versions/${v}/content`);
      if (sha(dl.raw) !== sha(resumable)) resumed.push('download differs');
    }
    check('resumable upload resumes after space is freed', resumed);

    const bk2 = await app.asOperator('/api/v1/backups', jsonBody({ target: 'full' }));
    const id = bk2.status < 300 ? bk2.json<{ id?: string; backup?: { id: string } }>() : undefined;
    const bkId = id?.id ?? id?.backup?.id;
    const ver = bkId ? await app.asOperator(`/api/v1/backups/${bkId}/verify`, { method: 'POST' }) : undefined;
    const verify = await app.asOperator('/api/v1/audit/verify');
    check('backup and audit after space is freed', [
      ...(bk2.status < 300 ? [] : [`backup ${bk2.status} ${bk2.body.slice(0, 200)}`]),
      ...(ver?.status === 200 ? [] : [`verify ${ver?.status} ${ver?.body.slice(0, 200)}`]),
      ...(verify.json<{ ok: boolean }>().ok ? [] : [`audit verify ${verify.body.slice(0, 200)}`]),
    ]);
    const tried = checks.length;
    const passed = checks.filter((c) => c.problems.length === 0).length;
    return {
      tried,
      passed,
      failed: tried - passed,
      findings: checks.filter((c) => c.problems.length > 0).map((c) => `${c.name}: ${c.problems.join('; ')}`),
    };
  } finally {
    await app.close();
    try {
      execFileSync('umount', [mnt]);
    } finally {
      rmSync(mnt, { recursive: true, force: true });
    }
  }
}

if (isMain(import.meta.url)) {
  const argv = process.argv.slice(2);
  const seed = flag(argv, '--seed', Math.floor(Math.random() * 2 ** 31));
  const sizeMb = flag(argv, '--size-mb', 16);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    console.error('disk-full mounts a small tmpfs: run it as root');
    process.exit(2);
  }
  console.log(`reliability-disk-full: seed=${seed} tmpfs=${sizeMb} MiB`);
  const res = await runDiskFull({ seed, sizeMb });
  for (const f of res.findings) console.log(`finding: ${f}`);
  console.log(summary('disk-full', { tried: res.tried, passed: res.passed, failed: res.failed, seed }));
  process.exit(res.failed === 0 ? 0 : 1);
}
