/**
 * HTTP(S) agents whose every socket goes through the egress guard. Hand them to an SDK (see
 * docs/egress.md) and the SDK cannot dial a refused address, whatever URL it builds.
 *
 * Guarantees, per new socket:
 * - A Unix-socket path is refused.
 * - The host is checked before dialling. Node's `net.connect` never calls `lookup` for an IP
 *   literal, so literals are judged here; names are resolved by the guard's `lookup`, which
 *   checks every record and hands back only checked addresses: the socket connects to exactly
 *   what was checked, with no second DNS query in between.
 * - Resolve + TCP connect (+ TLS handshake for https) must finish within the connect timeout;
 *   afterwards the socket is destroyed after the read timeout without traffic (also while it sits
 *   idle in the keep-alive pool).
 * - Nothing here follows redirects: Node's http/https clients never do.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { EgressDeniedError } from '../../core/net/egress-error.ts';
import type { EgressPolicy } from '../../core/net/egress-policy.ts';

export interface GuardedConnectDeps {
  readonly policy: Pick<EgressPolicy, 'checkHost'>;
  readonly lookup: net.LookupFunction;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/** A timeout of a guarded connection; `code` is ETIMEDOUT so SDKs treat it as a network failure. */
export class EgressTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly phase: 'resolve' | 'connect' | 'read',
    readonly timeoutMs: number,
  ) {
    super(`${phase === 'read' ? 'no data received' : `${phase} did not finish`} within ${timeoutMs} ms`);
    this.name = 'EgressTimeoutError';
  }
}

type ConnectCallback = (err: Error | null, stream: Duplex) => void;
type ConnectOptions = http.ClientRequestArgs & tls.ConnectionOptions;

function fail(err: Error, callback: ConnectCallback | undefined): Duplex | undefined {
  if (callback) {
    process.nextTick(callback, err);
    return undefined;
  }
  const socket = new net.Socket();
  process.nextTick(() => socket.destroy(err));
  return socket;
}

function armTimeouts(socket: net.Socket, deps: GuardedConnectDeps): void {
  const connectTimer = setTimeout(
    () => socket.destroy(new EgressTimeoutError('connect', deps.connectTimeoutMs)),
    deps.connectTimeoutMs,
  );
  socket.once(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', () => {
    clearTimeout(connectTimer);
    socket.setTimeout(deps.readTimeoutMs);
  });
  socket.once('close', () => clearTimeout(connectTimer));
  socket.on('timeout', () => {
    if (!socket.connecting) {
      // An error needs a listener (the request's, or the pool's for an idle socket); never crash.
      if (socket.listenerCount('error') > 0) socket.destroy(new EgressTimeoutError('read', deps.readTimeoutMs));
      else socket.destroy();
    }
  });
}

/** The shared body of both agents' `createConnection`: check, then dial with the guard's lookup. */
function guardedConnection(
  deps: GuardedConnectDeps,
  options: ConnectOptions,
  callback: ConnectCallback | undefined,
  dial: (options: ConnectOptions) => net.Socket,
): Duplex | undefined {
  if (options.socketPath)
    return fail(new EgressDeniedError('UNIX_SOCKET', 'connections to a Unix socket are not allowed'), callback);
  try {
    deps.policy.checkHost(options.host ?? 'localhost');
  } catch (err) {
    return fail(err as Error, callback);
  }
  // `path` would make net/tls dial a Unix socket instead of host:port; ours is always TCP.
  const socket = dial({ ...options, path: undefined, lookup: deps.lookup } as ConnectOptions);
  armTimeouts(socket, deps);
  return socket;
}

class GuardedHttpAgent extends http.Agent {
  readonly #deps: GuardedConnectDeps;
  constructor(deps: GuardedConnectDeps, options: http.AgentOptions) {
    super({ keepAlive: true, ...options, timeout: deps.readTimeoutMs });
    this.#deps = deps;
  }
  override createConnection(options: ConnectOptions, callback?: ConnectCallback): Duplex | undefined {
    return guardedConnection(this.#deps, options, callback, (o) => net.createConnection(o as net.NetConnectOpts));
  }
}

class GuardedHttpsAgent extends https.Agent {
  readonly #deps: GuardedConnectDeps;
  constructor(deps: GuardedConnectDeps, options: https.AgentOptions) {
    super({ keepAlive: true, ...options, timeout: deps.readTimeoutMs });
    this.#deps = deps;
  }
  override createConnection(options: ConnectOptions, callback?: ConnectCallback): Duplex | undefined {
    return guardedConnection(this.#deps, options, callback, (o) => super.createConnection(o) as net.Socket);
  }
}

/** An http.Agent (keep-alive by default) whose sockets are guarded. `timeout` is always the read timeout. */
export function createGuardedHttpAgent(deps: GuardedConnectDeps, options: http.AgentOptions = {}): http.Agent {
  return new GuardedHttpAgent(deps, options);
}

/** An https.Agent (keep-alive by default, TLS verification on) whose sockets are guarded. */
export function createGuardedHttpsAgent(deps: GuardedConnectDeps, options: https.AgentOptions = {}): https.Agent {
  return new GuardedHttpsAgent(deps, options);
}
