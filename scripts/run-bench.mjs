#!/usr/bin/env node
// `npm run bench -- <name>`: runs bench/<name>.ts. Each benchmark ends with one line
// `<name>: key=value …` so runs can be compared.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const name = process.argv[2];
const available = readdirSync(path.join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));
if (!name || !existsSync(path.join(root, 'bench', `${name}.ts`))) {
  console.error(`usage: npm run bench -- <name>\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(root, 'bench', `${name}.ts`), ...process.argv.slice(3)],
  { stdio: 'inherit', cwd: root },
);
child.on('exit', (code) => process.exit(code ?? 1));
