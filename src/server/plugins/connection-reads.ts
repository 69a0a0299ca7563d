/**
 * How the HTTPS server reads its connections.
 *
 * 1. Node's HTTP server reads a TLS connection's decrypted bytes straight into its parser (the
 *    stream is "consumed" in C++). When an answer is still being flushed (the socket needs a
 *    drain) as the next request on a kept-alive connection arrives, the server pauses the
 *    parser; bytes TLS had already decrypted are then still handed to the paused parser, which
 *    refuses them (`HPE_PAUSED`), and the connection is dropped under a request that did nothing
 *    wrong (a kept-alive upload reset before any answer: `npm run reliability -- load --reuse`).
 *    Guarantee: every connection's bytes reach the parser through the socket's `data` events,
 *    which stop while the server has the socket paused, so a pause never refuses a request.
 *    Listening to `data` is Node's own way off the consumed path (the server wraps `socket.on`
 *    for it); the cost is one JavaScript call per chunk read.
 * 2. The start of the request head being read on each connection is remembered, so a request the
 *    parser refuses part-way through its head (headers too large: the parser's error carries
 *    only the chunk it failed on) still has a known method — an answer to HEAD has no body.
 *    A head that starts in the middle of a chunk (pipelined right after another request's head
 *    or body) has no start at hand: the parser says when a message begins (its message-begin
 *    callback, a public constant of its class) but not where, so such a head is marked
 *    `METHOD_UNKNOWN` and its refusal is answered without a body, whatever its method.
 */
import type { Server } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** What the server's parser exposes of the request it last read a head for (Node internals, read only). */
type ParserView = { incoming?: { complete?: boolean } | null };

/** Connection → the first bytes of the request head being read (until the server has that request). */
const heads = new WeakMap<Duplex, string | typeof MID_CHUNK>();

/** A head that began inside a chunk, after other bytes of the connection. */
const MID_CHUNK = Symbol('head began mid-chunk');

/** What `methodBeingRead` says of a head whose start is not known (not a method token). */
export const METHOD_UNKNOWN = '?';

/** Connections of this server (the parser, pooled by Node, may later serve another socket). */
const served = new WeakSet<Duplex>();

/**
 * The parser's message-begin callback, called as a head's first byte is parsed. A head that began
 * at the start of a chunk was recorded by the `data` listener before the parser saw the chunk; any
 * other began after other bytes of the same chunk.
 */
function onMessageBegin(this: { socket?: Duplex | null }): void {
  const socket = this.socket;
  if (socket && served.has(socket) && !heads.has(socket)) heads.set(socket, MID_CHUNK);
}

/** Bytes kept of a head's start: enough for any method name. */
const KEEP = 16;

/** Call once, after the server is created (its own connection listener must run first). */
export function readConnectionsThroughStreams(server: Server): void {
  server.on('secureConnection', (socket: TLSSocket) => {
    served.add(socket);
    const parser = (socket as TLSSocket & { parser?: Record<number, unknown> | null }).parser;
    const kOnMessageBegin = (parser?.constructor as { kOnMessageBegin?: unknown } | undefined)?.kOnMessageBegin;
    if (parser && typeof kOnMessageBegin === 'number') parser[kOnMessageBegin] = onMessageBegin;
    // Prepended: it sees each chunk before the parser does.
    socket.prependListener('data', (chunk: Buffer) => {
      if (heads.has(socket)) return; // more of the same head
      const incoming = (socket as TLSSocket & { parser?: ParserView | null }).parser?.incoming ?? null;
      // No request, or the last one read whole: this chunk starts the next request's head.
      if (incoming === null || incoming.complete) heads.set(socket, chunk.toString('latin1', 0, KEEP));
    });
  });
  // Its head was read whole: what follows on the connection is its body, then the next head.
  server.on('request', (req: { socket: Duplex }) => heads.delete(req.socket));
}

/**
 * The method of the request whose head the connection is reading: the method, `METHOD_UNKNOWN`
 * for a head that began mid-chunk, undefined when its start is not a method (or nothing is known).
 */
export function methodBeingRead(socket: Duplex, failedChunk: unknown): string | undefined {
  const known = heads.get(socket);
  if (known === MID_CHUNK) return METHOD_UNKNOWN;
  const start = known ?? (Buffer.isBuffer(failedChunk) ? failedChunk.toString('latin1', 0, KEEP) : '');
  return /^([A-Z]{1,12}) /.exec(start)?.[1];
}
