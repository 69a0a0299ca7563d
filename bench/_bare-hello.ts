/**
 * The baseline of the reveal benches: a bare Fastify HTTPS hello-world with the test app's own
 * TLS material, on 127.0.0.1 in this process, so a ratio against it compares the request path
 * alone (same TLS, same client, same thread).
 */
import { readFile } from 'node:fs/promises';
import Fastify from 'fastify';

export async function startBareHello(app: { ca: string; home: string }) {
  const bare = Fastify({ https: { cert: app.ca, key: await readFile(`${app.home}/key.pem`, 'utf8') } });
  bare.get('/', async () => ({ hello: 'world' }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  return { bare, bareUrl: `https://localhost:${(bare.server.address() as { port: number }).port}/` };
}
