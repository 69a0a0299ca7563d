/**
 * Debian's haproxy in front of several servers on loopback, TCP mode (TLS passes through to the
 * servers), round robin per connection — the load balancer of the scale-out test. The config is
 * written to a temp directory; haproxy runs in the foreground (`-db`) and is stopped by its PID.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const HAPROXY = '/usr/sbin/haproxy';

export function haproxyMissing(): string | undefined {
  return existsSync(HAPROXY) ? undefined : `${HAPROXY} is missing (apt-get install -y haproxy)`;
}

export interface Haproxy {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** A port free right now on 127.0.0.1 (haproxy cannot report the one it chose). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export async function startHaproxy(backendPorts: readonly number[]): Promise<Haproxy> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sr-haproxy-'));
  const port = await freePort();
  const cfg = [
    'global',
    '  maxconn 1024',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend strongroom',
    `  bind 127.0.0.1:${port}`,
    '  default_backend servers',
    'backend servers',
    '  balance roundrobin',
    ...backendPorts.map((p, i) => `  server s${i} 127.0.0.1:${p}`),
    '',
  ].join('\n');
  const file = path.join(dir, 'haproxy.cfg');
  await writeFile(file, cfg);
  const child = spawn(HAPROXY, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const errors: string[] = [];
  child.stderr.on('data', (d: Buffer) => errors.length < 50 && errors.push(d.toString()));
  const deadline = Date.now() + 15_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`haproxy did not start on port ${port}: ${errors.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => void rm(dir, { recursive: true, force: true }).then(() => resolve());
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(kill);
          done();
        });
        child.kill('SIGTERM');
      }),
  };
}
