/**
 * Profiling aid for the byte path (issue 22): the `dataset-io` API part (bench/dataset-io.ts
 * `runApiBench`: one server in this process, the HTTPS client in a child) with this thread's
 * CPU profile running, sliced per transfer. For each of api_up, plain_up, api_down, plain_down
 * it prints the server's CPU seconds per GB (this process, user + system) and the top functions
 * by self and by inclusive samples within that transfer's time window; the whole profile is
 * written to /tmp/perf/io-<backend>.cpuprofile (open it in Chrome DevTools or speedscope).
 * It also counts this process's garbage collections per transfer (major = mark-compact, and the
 * milliseconds they took): on this path they are driven by external memory (Buffers), so the
 * count follows the bytes each path allocates and, unlike wall time, hardly moves with the
 * machine's load.
 *
 * Usage: node --import tsx bench/_profile-io.ts [MiB=256] [rounds=1] [--postgres] [--no-profile]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { makeTestFile, runApiBench } from './dataset-io.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const [mb = 256, rounds = 1] = args.filter((a) => !a.startsWith('--')).map(Number);
const backend = flags.has('--postgres') ? 'postgres' : 'pglite';
const profiling = !flags.has('--no-profile');

const label = (n: ProfileNode) => {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|src|bench|test)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : ''}`.trim();
};

/** Top `n` functions by self and inclusive samples between `from` and `to` (µs, the profile's clock). */
function summarize(p: Profile, from: number, to: number, n = 18): string[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < from || t > to) continue;
    total++;
    const leaf = byId.get(p.samples[i]!)!;
    self.set(label(leaf), (self.get(label(leaf)) ?? 0) + 1);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const l = label(byId.get(id)!);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + 1);
    }
  }
  const top = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => `    ${((100 * v) / Math.max(1, total)).toFixed(1).padStart(5)} %  ${k}`);
  return [`  ${total} samples`, '  self:', ...top(self), '  inclusive:', ...top(incl)];
}

const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'strongroom-profile-io-'));
const session = new Session();
try {
  const src = path.join(dir, 'plain.bin');
  const srcSha = await makeTestFile(src, mb * 1024 * 1024);
  const windows: { name: string; start: number; end: number }[] = [];
  const gcs: { kind: number; start: number; ms: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[])
      gcs.push({ kind: e.detail?.kind ?? 0, start: (performance.timeOrigin + e.startTime) * 1000, ms: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  session.connect();
  if (profiling) {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
    await session.post('Profiler.start');
  }
  const figures = await runApiBench({
    src,
    srcSha,
    sizeBytes: mb * 1024 * 1024,
    rounds,
    dir,
    backend,
    log: (l) => console.log(l),
    // hrtime (ns) and the profiler's clock (µs) are both the monotonic clock.
    onOp: (name, start, end) => windows.push({ name, start: Number(start / 1000n), end: Number(end / 1000n) }),
  });
  observer.disconnect();
  // GC entries carry wall-clock times (timeOrigin-based); the windows are monotonic: shift by the offset now.
  const offsetUs = (performance.timeOrigin + performance.now()) * 1000 - Number(process.hrtime.bigint() / 1000n);
  for (const name of ['api_up', 'plain_up', 'api_down', 'plain_down']) {
    const mine = windows.filter((w) => w.name === name);
    const inside = (g: { start: number }) =>
      mine.some((w) => g.start - offsetUs >= w.start && g.start - offsetUs <= w.end);
    const major = gcs.filter((g) => g.kind === constants.NODE_PERFORMANCE_GC_MAJOR && inside(g));
    const minor = gcs.filter((g) => g.kind !== constants.NODE_PERFORMANCE_GC_MAJOR && inside(g));
    const ms = (xs: { ms: number }[]) => xs.reduce((a, g) => a + g.ms, 0).toFixed(0);
    console.log(
      `gc ${name} (${mine.length} transfers): major ${major.length} (${ms(major)} ms), other ${minor.length} (${ms(minor)} ms)`,
    );
  }
  const gb = (mb * 1024 * 1024) / 1e9;
  console.log(
    `server CPU s/GB: ${Object.entries(figures.serverCpuSeconds)
      .map(([k, v]) => `${k}=${(v / gb).toFixed(2)}`)
      .join(
        ' ',
      )}; ratios up ${figures.apiUpVsPlain.toFixed(2)} down ${figures.apiDownVsPlain.toFixed(2)}; stream RSS delta ${Math.round(figures.streamDeltaRssBytes / 2 ** 20)} MiB`,
  );
  if (profiling) {
    const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
    await mkdir('/tmp/perf', { recursive: true });
    const file = `/tmp/perf/io-${backend}.cpuprofile`;
    await writeFile(file, JSON.stringify(profile));
    console.log(`profile: ${file}`);
    for (const name of ['api_up', 'plain_up', 'api_down', 'plain_down']) {
      const mine = windows.filter((w) => w.name === name);
      if (mine.length === 0) continue;
      console.log(`${name} (last of ${mine.length}):`);
      const w = mine[mine.length - 1]!;
      for (const line of summarize(profile, w.start, w.end)) console.log(line);
    }
  }
} finally {
  session.disconnect();
  await rm(dir, { recursive: true, force: true });
}
