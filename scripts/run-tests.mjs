#!/usr/bin/env node
// `npm test`: every *.test.ts under src/ and test/ on node:test, or only the files/dirs given
// (`npm test -- test/server.test.ts`). Before the tests: builds the `strongroom` command to
// JavaScript if the build is stale (`npm run build:server --if-stale`), so the command the tests
// spawn is the one `npm start` runs (the build, not tsx: about half the CPU per start), and the
// migrated PGlite template, once per run. test/cli-build.e2e.test.ts covers the tsx fallback.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { register } from 'tsx/esm/api';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
process.chdir(root);

function collect(p, out) {
  const s = statSync(p);
  if (s.isFile()) {
    if (p.endsWith('.test.ts')) out.push(p);
    return out;
  }
  for (const name of readdirSync(p).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    collect(path.join(p, name), out);
  }
  return out;
}

const args = process.argv.slice(2);
const targets = args.length > 0 ? args : ['src', 'test'];
const files = targets.flatMap((t) => collect(t, []));
if (files.length === 0) {
  console.error(`no test files under ${targets.join(', ')}`);
  process.exit(2);
}

if (process.env.STRONGROOM_TEST_STRICT === '1') console.log('strict mode: a missing peer fails its suite');
const t0 = Date.now();
const built = spawnSync(process.execPath, ['scripts/build-server.mjs', '--if-stale'], { stdio: 'inherit' });
if (built.status !== 0) {
  console.error('the server build failed; see above');
  process.exit(1);
}
register();
const { pgliteTemplate } = await import('../test/helpers/db.ts');
await pgliteTemplate();
console.log(`server build and PGlite template ready in ${Date.now() - t0} ms; running ${files.length} test files`);

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: '' } },
);
child.on('exit', (code, signal) => {
  console.log(`test run finished in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.exit(code ?? (signal ? 1 : 0));
});
