#!/usr/bin/env node
// Build the web console (web/ → web/dist) with Vite. `--if-missing`: only when there is no build
// (used by `npm start`); `--if-stale`: only when a source is newer than the build (used by the
// e2e test); no flag: always. The output has hashed asset names and no inline script or style,
// so it runs under the server's strict CSP.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
const dist = path.join(web, 'dist');
const built = path.join(dist, 'index.html');

function newest(p) {
  const s = statSync(p);
  if (!s.isDirectory()) return s.mtimeMs;
  let max = 0;
  for (const name of readdirSync(p))
    if (!name.startsWith('dist') && name !== 'node_modules') max = Math.max(max, newest(path.join(p, name)));
  return max;
}

const mode = process.argv[2];
if (mode === '--if-missing' && existsSync(built)) process.exit(0);
if (mode === '--if-stale' && existsSync(built)) {
  const sources = Math.max(
    newest(web),
    newest(path.join(root, 'src', 'client')),
    statSync(path.join(root, 'package-lock.json')).mtimeMs,
  );
  if (sources <= statSync(built).mtimeMs) process.exit(0);
}

const t0 = Date.now();
const { build } = await import('vite');
const { default: react } = await import('@vitejs/plugin-react');
// Build beside the old output, then swap directories: a server starting meanwhile sees either
// the old build or none, never half of one.
const fresh = path.join(web, 'dist.new');
const old = path.join(web, 'dist.old');
rmSync(fresh, { recursive: true, force: true });
await build({
  root: web,
  configFile: false,
  logLevel: 'warn',
  plugins: [react()],
  build: {
    outDir: fresh,
    emptyOutDir: true,
    // Every asset is a file under /assets (no data: URLs, which the CSP's img-src refuses).
    assetsInlineLimit: 0,
    // The preload polyfill is not needed by the browsers the console supports.
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
});
rmSync(old, { recursive: true, force: true });
if (existsSync(dist)) renameSync(dist, old);
renameSync(fresh, dist);
rmSync(old, { recursive: true, force: true });
console.log(`console built into ${path.relative(root, dist)} in ${Date.now() - t0} ms`);
