#!/usr/bin/env node
// `npm run reliability -- <suite> [flags]`: runs reliability/<suite>.ts. Each suite ends with one
// line `reliability-<suite>: tried=… passed=… …`. Suites run in a fresh network namespace with
// only loopback (`unshare --net`), so generated requests that name a host cannot leave the machine.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const name = process.argv[2];
const available = readdirSync(path.join(root, 'reliability'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3));
if (!name || !existsSync(path.join(root, 'reliability', `${name}.ts`))) {
  console.error(`usage: npm run reliability -- <suite>\navailable: ${available.join(', ')}`);
  process.exit(2);
}
const node = [
  process.execPath,
  '--import',
  'tsx',
  path.join(root, 'reliability', `${name}.ts`),
  ...process.argv.slice(3),
];
const quote = (s) => `'${s.replaceAll("'", "'\\''")}'`;
// Root may make the namespace directly; anyone else maps themselves to root in a user namespace.
const isolated = (userns) => [
  ...(userns ? ['--user', '--map-root-user'] : []),
  '--net',
  'sh',
  '-c',
  `ip link set lo up && exec ${node.map(quote).join(' ')}`,
];
const probe = (args) =>
  spawnSync('unshare', [...args.slice(0, -1), 'ip link set lo up'], { stdio: 'ignore' }).status === 0;
const direct = isolated(false);
const userns = isolated(true);
const args = probe(direct) ? direct : probe(userns) ? userns : undefined;
if (!args) {
  console.error('reliability: needs `unshare --net` (root or user namespaces) to keep traffic on loopback');
  process.exit(2);
}
// report runs each suite through this script again (each isolated on its own). db-faults talks to the shared PostgreSQL on the host's 127.0.0.1 (through its own proxy), which a
// new network namespace cannot reach; everything it sends goes to 127.0.0.1 by construction.
const HOST_LOOPBACK = new Set(['db-faults', 'report']);
const child = HOST_LOOPBACK.has(name)
  ? spawn(node[0], node.slice(1), { stdio: 'inherit', cwd: root })
  : spawn('unshare', args, { stdio: 'inherit', cwd: root });
child.on('exit', (code) => process.exit(code ?? 1));
