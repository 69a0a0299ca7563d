/** Run the real `strongroom` command as a child process, as a user or a script would. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/strongroom.js', import.meta.url));

/**
 * The environment a child command inherits: the test runner's, minus every Strongroom setting
 * (`STRONGROOM_*`, `DATABASE_URL`, their `_FILE` forms), so a developer's shell — or a server of
 * theirs running on the default ports with its own data directory — never leaks into a test.
 */
export function inheritedEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('STRONGROOM_') || k.startsWith('DATABASE_URL')) continue;
    out[k] = v;
  }
  return out;
}

export function runCli(
  args: string[],
  env: Record<string, string>,
  input?: string,
): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...inheritedEnv(), ...env },
    encoding: 'utf8',
    input,
    // A hang guard, not a timing claim: a restore on a loaded 2-core machine took over 60 s.
    timeout: 240_000,
  });
  return {
    status: r.status ?? -1,
    stdout: r.stdout,
    stderr: r.stderr + (r.error ? `\n[runCli] ${r.error.message}` : ''),
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Environment for an installation at `home`: HTTPS on a free loopback port, no HTTP or metrics
 * listener, no periodic drive health check.
 */
export async function installationEnv(home: string): Promise<Record<string, string>> {
  return {
    STRONGROOM_HOME: home,
    STRONGROOM_HTTPS_PORT: String(await freePort()),
    STRONGROOM_HTTP_PORT: 'off',
    STRONGROOM_METRICS_PORT: 'off',
    STRONGROOM_DRIVE_HEALTH_SECONDS: '0',
  };
}

export interface ServeProcess {
  child: ChildProcess;
  lines: string[];
  ready: Record<string, unknown>;
  /** Resolves with the first JSON log line whose msg matches. */
  waitFor(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Everything written to standard error so far (the banner, the setup token). */
  stderr(): string;
}

// The wait is a hang guard, not a timing claim: on a loaded 2-core machine a start took over 60 s.
export async function startServe(env: Record<string, string>, timeoutMs = 180_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { ...inheritedEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { msg: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      try {
        const j = JSON.parse(line) as Record<string, unknown>;
        for (const w of waiters.filter((x) => x.msg === j.msg)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(j);
        }
      } catch {
        /* not a log line */
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (msg: string, ms = timeoutMs) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const seen = lines
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, unknown>;
          } catch {
            return undefined;
          }
        })
        .find((j) => j?.msg === msg);
      if (seen) return resolve(seen);
      const timer = setTimeout(() => reject(new Error(`timed out waiting for "${msg}"; stderr: ${stderr}`)), ms);
      waiters.push({ msg, resolve: (v) => (clearTimeout(timer), resolve(v)) });
      void exited.then((code) => reject(new Error(`serve exited (${code}) before "${msg}"; stderr: ${stderr}`)));
    });
  const ready = await waitFor('strongroom ready');
  return { child, lines, ready, waitFor, exited, stderr: () => stderr };
}

/** The CLI as a child process without blocking this process (a server may run in it). */
export function cliAsync(
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...inheritedEnv(), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ status: code ?? -1, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}

export interface CliRun {
  status: number;
  stdout: Buffer;
  stderr: string;
}

/** The CLI as a child process in `cwd`, with binary standard output; `bare` = an empty environment but PATH. */
export function cliIn(
  cwd: string,
  args: string[],
  o: { env?: Record<string, string>; input?: Buffer; bare?: boolean } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const childEnv = o.bare ? { PATH: process.env.PATH ?? '/usr/bin:/bin' } : { ...inheritedEnv(), ...o.env };
    const child = spawn(process.execPath, [BIN, ...args], { env: childEnv, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ status: code ?? -1, stdout: Buffer.concat(out), stderr }));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(o.input ?? Buffer.alloc(0));
  });
}

/** Signs the CLI in as `session` (a credentials file under a fresh XDG config dir in `dir`); returns the CLI's environment. */
export async function cliCredentials(
  dir: string,
  server: { base: string; ca: string },
  session: { id: string; csrf: string },
  email: string,
): Promise<Record<string, string>> {
  const cfg = path.join(dir, 'cfg');
  await mkdir(path.join(cfg, 'strongroom'), { recursive: true, mode: 0o700 });
  await writeFile(
    path.join(cfg, 'strongroom', 'credentials.json'),
    JSON.stringify({ baseUrl: `${server.base}/`, ca: server.ca, session: session.id, csrf: session.csrf, email }),
    { mode: 0o600 },
  );
  return { XDG_CONFIG_HOME: cfg, STRONGROOM_HOME: path.join(dir, 'nohome') };
}
