/**
 * Child-process entry of the GCS peer. The parent (gcs-peer.ts) talks to it over the IPC channel:
 * `{op:'start', config}` → `{op:'ready', port}`, then `{id, op, …}` → `{id, ok, error?}`.
 * The peer exits when the parent goes away or on SIGTERM, so it never outlives a test run.
 */
import { GcsHttpError } from './errors.ts';
import type { PeerServiceAccount } from './oauth.ts';
import { type Fault, type GcsServerConfig, GcsServer, type PeerToken } from './server.ts';

type Message =
  | { op: 'start'; config: GcsServerConfig }
  | { id: number; op: 'createBucket'; name: string }
  | { id: number; op: 'setTokens'; tokens: PeerToken[] }
  | { id: number; op: 'fault'; fault: Fault }
  | { id: number; op: 'addServiceAccount'; serviceAccount: PeerServiceAccount };

let peer: GcsServer | undefined;

function send(msg: unknown): void {
  process.send?.(msg);
}

process.on('message', (msg: Message) => {
  if (msg.op === 'start') {
    peer = new GcsServer(msg.config);
    peer.listen().then(
      (port) => send({ op: 'ready', port }),
      (err: Error) => send({ op: 'failed', error: err.message }),
    );
    return;
  }
  try {
    if (!peer) throw new Error('peer not started');
    if (msg.op === 'createBucket') peer.store.createBucket(msg.name);
    else if (msg.op === 'setTokens') peer.setTokens(msg.tokens);
    else if (msg.op === 'fault') peer.addFault(msg.fault);
    else if (msg.op === 'addServiceAccount') peer.oauth.addServiceAccount(msg.serviceAccount);
    send({ id: msg.id, ok: true });
  } catch (err) {
    send({ id: msg.id, ok: false, error: err instanceof GcsHttpError ? `${err.status} ${err.message}` : String(err) });
  }
});

const shutdown = (): void => {
  if (!peer) process.exit(0);
  void peer.close().finally(() => process.exit(0));
};
process.on('disconnect', shutdown);
process.on('SIGTERM', shutdown);
