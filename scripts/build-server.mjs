#!/usr/bin/env node
// Build the `strongroom` command (src/ → dist/server/) as plain JavaScript with esbuild, so a
// start does not run every source file through tsx's loader (on Node 20 its hooks run on a
// separate thread, one message per import). `bin/strongroom.js` runs the build only while it is
// fresh (newer than every file under src/ and package-lock.json) and runs the sources through
// tsx otherwise, so an edited checkout never runs old code. `--if-stale`: only when stale (used
// by `npm start`); no flag: always. Dependencies stay external (loaded from node_modules as
// before); lazily imported modules (cloud drivers) stay separate chunks, loaded on first use.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { SERVER_BUILD_DIR, serverBuildIsFresh } from '../bin/server-build.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, SERVER_BUILD_DIR);
const src = path.join(root, 'src') + path.sep;

if (process.argv[2] === '--if-stale' && serverBuildIsFresh(root)) process.exit(0);

// A source file's `import.meta.url` must keep naming the source file (assets are found next to
// it: Cedar policies, the console build), not the chunk it was bundled into. Written relative to
// the chunk, so the checkout can move.
const keepModuleUrl = {
  name: 'keep-module-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!args.path.startsWith(src) || !text.includes('import.meta.url')) return undefined;
      const rel = path.relative(out, args.path).split(path.sep).join('/');
      const url = `new URL(${JSON.stringify(rel)}, import.meta.url).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

const tmp = `${out}.new`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
await build({
  entryPoints: { strongroom: path.join(root, 'src', 'strongroom.ts') },
  outdir: tmp,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunk-[hash]',
  plugins: [keepModuleUrl],
  logLevel: 'warning',
});
// The stamp is written last: a build cut short is never taken for a fresh one.
writeFileSync(path.join(tmp, 'built.json'), JSON.stringify({ at: new Date().toISOString() }) + '\n');
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
if (!existsSync(path.join(out, 'strongroom.mjs'))) throw new Error('the server build wrote no entry point');
console.log(`server built: ${pathToFileURL(out).pathname}`);
