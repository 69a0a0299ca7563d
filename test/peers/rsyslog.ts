/**
 * A real syslog receiver: Debian `rsyslogd` (+ rsyslog-gnutls) in the foreground with its own
 * configuration — imtcp with the gtls driver on 127.0.0.1 (TLS, certificate from the test CA),
 * every message's MSG part appended to one file. Nothing of the machine's own rsyslog is used.
 * Started and stopped (or killed) by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

export const RSYSLOGD = '/usr/sbin/rsyslogd';
export const GTLS_DRIVER = '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so';

export function rsyslogAvailable(): boolean {
  return existsSync(RSYSLOGD) && existsSync(GTLS_DRIVER);
}

export interface Rsyslog {
  port: number;
  outFile: string;
  child: ChildProcess;
  /** The lines written so far (the MSG of each message received). */
  lines(): Promise<string[]>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`rsyslogd did not listen on ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

/** Starts rsyslogd on `port` writing to `<dir>/received.log` (appending across restarts). */
export async function startRsyslog(opts: {
  dir: string;
  port: number;
  caFile: string;
  certFile: string;
  keyFile: string;
}): Promise<Rsyslog> {
  const work = path.join(opts.dir, 'work');
  await mkdir(work, { recursive: true });
  const outFile = path.join(opts.dir, 'received.log');
  const conf = path.join(opts.dir, 'rsyslog.conf');
  await writeFile(
    conf,
    `global(workDirectory="${work}" maxMessageSize="64k"
  defaultNetstreamDriver="gtls"
  defaultNetstreamDriverCAFile="${opts.caFile}"
  defaultNetstreamDriverCertFile="${opts.certFile}"
  defaultNetstreamDriverKeyFile="${opts.keyFile}")
module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="${opts.port}")
template(name="msgOnly" type="string" string="%msg%\\n")
action(type="omfile" file="${outFile}" template="msgOnly" flushOnTXEnd="on" asyncWriting="off")
`,
  );
  const child = spawn(RSYSLOGD, ['-n', '-f', conf, '-i', path.join(opts.dir, 'rsyslogd.pid')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(opts.port, 10_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}: ${stderr}`);
  }
  return {
    port: opts.port,
    outFile,
    child,
    async lines() {
      const text = await readFile(outFile, 'utf8').catch(() => '');
      return text.split('\n').filter((l) => l.trim() !== '');
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
      await exited;
    },
  };
}
