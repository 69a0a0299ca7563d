/**
 * Starts a peer as a child process and waits until it says where it listens.
 *
 * `ready` is matched against each line of the child's stdout/stderr and returns the port when the
 * line announces it. The child is stopped by PID (SIGTERM, then SIGKILL after 3 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SpawnedPeer {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function spawnPeer(
  name: string,
  command: string,
  args: string[],
  ready: (line: string) => number | undefined,
  opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<SpawnedPeer> {
  const child: ChildProcess = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(new Error(`${name} did not start within ${opts.timeoutMs ?? 30_000} ms`)),
      opts.timeoutMs ?? 30_000,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${output.join('\n')}`));
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        if (output.length < 50) output.push(line);
        const p = ready(line);
        if (p !== undefined) {
          clearTimeout(timer);
          resolve(p);
        }
      });
    }
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`${name} exited with code ${code}`)));
  });
  child.removeAllListeners('exit');
  return {
    port,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
