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
 */
import type { Server } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

/** What the server's parser exposes of the request it last read a head for (Node internals, read only). */
type ParserView = { incoming?: { complete?: boolean } | null };

/** Connection → the first bytes of the request head being read (until the server has that request). */
const heads = new WeakMap<Duplex, string>();

/** Bytes kept of a head's start: enough for any method name. */
const KEEP = 16;

/** Call once, after the server is created (its own connection listener must run first). */
export function readConnectionsThroughStreams(server: Server): void {
  server.on('secureConnection', (socket: TLSSocket) => {
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

/** The method of the request whose head the connection is reading, when known. */
export function methodBeingRead(socket: Duplex, failedChunk: unknown): string | undefined {
  const start = heads.get(socket) ?? (Buffer.isBuffer(failedChunk) ? failedChunk.toString('latin1', 0, KEEP) : '');
  return /^([A-Z]{1,12}) /.exec(start)?.[1];
}
