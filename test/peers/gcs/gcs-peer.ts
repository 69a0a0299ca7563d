/**
 * Starts the project's GCS test server (server.ts) in a child process on 127.0.0.1, port 0.
 *
 * Nothing ready-made serves the GCS JSON API here, so this peer is ours; it needs nothing beyond
 * Node and tsx, so it is always available (no skip). State is in memory and dies with the child.
 *
 * ```ts
 * const peer = await startGcsPeer({ buckets: ['data'], tokens: [{ token: 'ro', buckets: { data: 'read' } }] });
 * const storage = storageForPeer(peer, peer.adminToken); // see sdk.ts
 * const key = await registerServiceAccount(peer, { access: 'write' }); // see service-account.ts, oauth.ts
 * await peer.stop();
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { PeerServiceAccount } from './oauth.ts';
import type { Fault, PeerToken } from './server.ts';

export type { PeerServiceAccount } from './oauth.ts';
export type { Access, Fault, PeerToken } from './server.ts';

export interface GcsPeer {
  /** `http://127.0.0.1:PORT` — the SDK's `apiEndpoint`. */
  url: string;
  port: number;
  pid: number;
  /** A token with `admin` on everything (creates buckets). */
  adminToken: string;
  projectId: string;
  createBucket(name: string): Promise<void>;
  /** Replaces the extra tokens (the admin token stays). */
  setTokens(tokens: PeerToken[]): Promise<void>;
  /** Registers (or replaces) a service account with the token endpoint; see service-account.ts. */
  addServiceAccount(sa: PeerServiceAccount): Promise<void>;
  /** Queues a fault for the next matching request (see `Fault` in server.ts). */
  injectFault(fault: Fault): Promise<void>;
  stop(): Promise<void>;
}

export interface StartGcsPeerOptions {
  buckets?: string[];
  tokens?: PeerToken[];
  serviceAccounts?: PeerServiceAccount[];
  projectId?: string;
  maxObjectBytes?: number;
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export async function startGcsPeer(opts: StartGcsPeerOptions = {}): Promise<GcsPeer> {
  const adminToken = `admin-${randomBytes(16).toString('hex')}`;
  const admin: PeerToken = {
    token: adminToken,
    access: 'admin',
    principal: 'admin@strongroom-test.iam.gserviceaccount.com',
  };
  const projectId = opts.projectId ?? 'strongroom-test';
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('GCS peer: could not spawn node');
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('GCS peer: no ready message within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`GCS peer exited early (code ${code})`)));
    child.on('message', (m: { op?: string; port?: number; error?: string }) => {
      if (m.op === 'ready') resolve(m.port!);
      if (m.op === 'failed') reject(new Error(`GCS peer failed to start: ${m.error}`));
      if (m.op === 'ready' || m.op === 'failed') clearTimeout(timer);
    });
    const config = {
      tokens: [admin, ...(opts.tokens ?? [])],
      serviceAccounts: opts.serviceAccounts ?? [],
      buckets: opts.buckets ?? [],
      projectId,
      maxObjectBytes: opts.maxObjectBytes,
    };
    child.send({ op: 'start', config });
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  child.removeAllListeners('exit');
  const call = rpc(child);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid,
    adminToken,
    projectId,
    createBucket: (name) => call({ op: 'createBucket', name }),
    setTokens: (tokens) => call({ op: 'setTokens', tokens: [admin, ...tokens] }),
    addServiceAccount: (serviceAccount) => call({ op: 'addServiceAccount', serviceAccount }),
    injectFault: (fault) => call({ op: 'fault', fault }),
    stop: () => stopChild(child, pid),
  };
}

function rpc(child: ChildProcess): (msg: Record<string, unknown>) => Promise<void> {
  let next = 1;
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  child.on('message', (m: { id?: number; ok?: boolean; error?: string }) => {
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (!p) return;
    pending.delete(m.id!);
    if (m.ok) p.resolve();
    else p.reject(new Error(`GCS peer: ${m.error}`));
  });
  return (msg) =>
    new Promise<void>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      child.send({ ...msg, id });
    });
}

/** SIGTERM by PID, SIGKILL after 3 s; resolves once the child has exited. */
async function stopChild(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
  if (child.connected) child.disconnect();
}
