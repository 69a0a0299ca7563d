/**
 * The web console (C13), served by the same process as the API, under the same strict CSP.
 *
 * - `/assets/<name>.<hash>.<ext>`: Vite's hashed build output, `public, max-age=31536000,
 *   immutable` (a new build has new names, so nothing stale is ever served).
 * - The console's client-side pages (`/`, `/drives…`, `/datasets…`, …): `index.html`, `no-store`,
 *   so a deploy is picked up on the next navigation.
 *
 * Any other GET a browser makes for a page (it accepts `text/html`) answers with the console too,
 * whose router shows the page or its own "No such page" — a mistyped address or a page of a newer
 * console never meets raw JSON. Everything under `/api/` and `/assets/`, and requests that do not
 * ask for HTML, keep the problem+json 404. When the build is missing nothing is registered and
 * the API works alone (the caller logs why).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { noRouteError } from './plugins/problem.ts';

/** Where `npm run build:console` writes the console (web/dist, beside src/). */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** Paths that are never a console page: the API and the build's files. */
const NOT_PAGES = /^\/(api|assets)(\/|$)/;

const PUBLIC = { public: 'console static assets (no data; the API behind them decides access)' };
const YEAR_MS = 365 * 24 * 3600 * 1000;

/** True when `dir` holds a console build (its index.html and assets folder). */
export function consoleBuilt(dir: string): boolean {
  return existsSync(path.join(dir, 'index.html')) && existsSync(path.join(dir, 'assets'));
}

/** Serve the console from `dir`; false (nothing registered) when its index.html cannot be read. */
export async function registerConsole(app: FastifyInstance, dir: string): Promise<boolean> {
  let index: Buffer;
  try {
    index = readFileSync(path.join(dir, 'index.html'));
  } catch {
    return false; // a build being replaced right now; the API works without the console
  }
  const assets = path.join(dir, 'assets');
  await app.register(async (scope) => {
    // Only `reply.sendFile` is used: the plugin's own routes are off, ours declare their access.
    await scope.register(fastifyStatic, { root: assets, serve: false, decorateReply: true });
    scope.get('/assets/*', { config: { access: PUBLIC } }, (request, reply) => {
      const rel = (request.params as { '*': string })['*'];
      // `send` refuses `..` and dotfiles; a missing file is the usual problem+json 404.
      return reply.sendFile(rel, assets, { immutable: true, maxAge: YEAR_MS, dotfiles: 'deny' });
    });
    const page = (_req: unknown, reply: import('fastify').FastifyReply) =>
      reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(index);
    scope.get('/', { config: { access: PUBLIC } }, page);
    // Every other path no route took: the console for a browser's page load, else the usual 404.
    scope.get('/*', { config: { access: PUBLIC } }, (request, reply) => {
      const wantsHtml = /\btext\/html\b/.test(String(request.headers.accept ?? ''));
      if (!wantsHtml || NOT_PAGES.test(request.url)) throw noRouteError(request.url);
      return page(request, reply);
    });
  });
  return true;
}
