/**
 * `strongroom keys …` (alias `key`): key status, rotation, rewrap, retirement, root rotation —
 * online or offline — and `export`, the unwrapped data keys of a workspace (online only).
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import type { KeysStatus, WorkspaceKeyStatus } from '../contracts/index.ts';
import { openTaskLog, rotateFileRootKey, runRewrapTask } from '../modules/keys/index.ts';
import { configOrExit } from './context.ts';
import { withOffline } from './offline.ts';
import { connectToServer, say } from './server-link.ts';
import type { Api } from '../client/api.ts';

function printStatus(s: KeysStatus, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  process.stdout.write(`state: ${s.state}   root key provider: ${s.provider}   active term: ${s.activeTerm ?? '-'}\n`);
  for (const t of s.terms) {
    const flags = [t.active ? 'active' : '', t.retiredAt ? `retired ${t.retiredAt}` : ''].filter(Boolean).join(', ');
    process.stdout.write(
      `  term ${t.term}  created ${t.createdAt || '?'}  protects ${t.sealedValues} value(s)${flags ? `  (${flags})` : ''}\n`,
    );
  }
  if (s.rewrap.running) process.stdout.write(`rewrap running: ${s.rewrap.rewrapped} value(s) moved so far\n`);
}

function printWorkspaceStatus(s: WorkspaceKeyStatus, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `workspace ${s.workspaceId}: key version ${s.keyVersion}${s.destroyed ? ' (DESTROYED)' : ''}   created ${s.createdAt}   last rotation ${s.rotatedAt ?? 'never'}\n`,
  );
  for (const v of s.versions)
    process.stdout.write(
      `  version ${v.version}  wraps ${v.wrappedKeys} data key(s)${v.current ? '  (current)' : `  (superseded ${v.supersededAt ?? '?'})`}\n`,
    );
  const r = s.rewrap;
  if (r.running) process.stdout.write(`rewrap running: ${r.rewrapped} data key(s) moved so far\n`);
  else if (r.lastError) process.stdout.write(`last rewrap failed: ${r.lastError}\n`);
}

/** Workspace keys live under the unsealed keyring of the running server: online only. */
async function workspaceKeysClient(config: Parameters<typeof connectToServer>[0], what: string): Promise<Api> {
  const client = await connectToServer(config);
  if (!client)
    throw new CliExit(
      EXIT.FAILED,
      `${what} needs the running server (workspace keys are opened under its unsealed keyring): start it with strongroom serve`,
    );
  say('online', what);
  return client;
}

/** Older versions still wrapping data keys (what a rewrap moves). */
const underOlder = (s: WorkspaceKeyStatus) =>
  s.versions.filter((v) => !v.current).reduce((n, v) => n + v.wrappedKeys, 0);

export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .alias('key')
    .description('Key management: status, rotation, rewrap, retirement (online through a running server, or offline)');

  keys
    .command('status')
    .description('Show the seal state, key terms and how many sealed values each term still protects')
    .option('--json', 'print JSON')
    .option('--workspace <ws>', 'show this workspace key instead: versions, data keys per version, rewrap (online)')
    .action(async (o: { json?: boolean; workspace?: string }) => {
      const config = configOrExit();
      if (o.workspace) {
        const api = await workspaceKeysClient(config, `workspace key status of ${o.workspace}`);
        printWorkspaceStatus(await api.keys.workspaceStatus(o.workspace), Boolean(o.json));
        return;
      }
      const client = await connectToServer(config);
      if (client) {
        say('online', 'key status');
        printStatus(await client.keys.status(), Boolean(o.json));
        return;
      }
      say('offline', 'key status');
      await withOffline(config, { unseal: true }, async (ctx) => {
        await ctx.record({ action: 'keys.keyring.read' });
        printStatus(await ctx.keys.status(), Boolean(o.json));
      });
    });

  keys
    .command('rotate')
    .description(
      'Add a new key term; every new write uses it at once. Old terms stay readable until rewrapped. With --workspace: a new version of that workspace key instead (online).',
    )
    .option(
      '--workspace <ws>',
      'rotate this workspace key (its data keys are wrapped under the new version from now on)',
    )
    .option('--rewrap', 'with --workspace: also start re-wrapping the data keys still under older versions')
    .option('--json', 'with --workspace: print the answer as JSON')
    .action(async (o: { workspace?: string; rewrap?: boolean; json?: boolean }) => {
      const config = configOrExit();
      if (o.rewrap && !o.workspace)
        throw new CliExit(EXIT.USAGE, '--rewrap goes with --workspace (else: strongroom keys rewrap)');
      if (o.workspace) {
        await rotateWorkspaceKey(config, o.workspace, Boolean(o.rewrap), Boolean(o.json));
        return;
      }
      const client = await connectToServer(config);
      if (client) {
        say('online', 'rotate');
        const r = await client.keys.rotate();
        process.stdout.write(
          `active term is now ${r.activeTerm}; run 'strongroom keys rewrap' to move existing values\n`,
        );
        return;
      }
      say('offline', 'rotate');
      await withOffline(config, { unseal: true }, async (ctx) => {
        const term = await ctx.keys.rotate((trx) => ctx.record({ action: 'keys.keyring.rotate' }, trx));
        process.stdout.write(`active term is now ${term}; run 'strongroom keys rewrap' to move existing values\n`);
      });
    });

  keys
    .command('rewrap')
    .description(
      'Re-seal every value under the active term (resumable; reads and writes continue meanwhile). With --workspace: re-wrap that workspace’s data keys under its current key version (online).',
    )
    .option('--workspace <ws>', 're-wrap the data keys of this workspace')
    .action(async (o: { workspace?: string }) => {
      const config = configOrExit();
      if (o.workspace) {
        const api = await workspaceKeysClient(config, `rewrap the data keys of workspace ${o.workspace}`);
        const r = await api.keys.rewrapWorkspace(o.workspace);
        process.stdout.write(
          `rewrap started as task ${r.taskId} (log: ${r.taskLog}); progress: 'strongroom keys status --workspace ${o.workspace}'\n`,
        );
        return;
      }
      const client = await connectToServer(config);
      if (client) {
        say('online', 'rewrap');
        const r = await client.keys.rewrap();
        process.stdout.write(
          `rewrap started as task ${r.taskId} (log: ${r.taskLog}); progress: 'strongroom keys status'\n`,
        );
        return;
      }
      say('offline', 'rewrap');
      await withOffline(config, { unseal: true }, async (ctx) => {
        const log = await openTaskLog(config.STRONGROOM_HOME, 'rewrap');
        await ctx.record({ action: 'keys.keyring.rewrap', details: { taskId: log.id, taskLog: log.ref } });
        const r = await runRewrapTask(ctx.keys, log, (p) =>
          process.stderr.write(`\rrewrapped ${p.rewrapped} value(s)…`),
        );
        process.stdout.write(`\nrewrapped ${r.rewrapped} value(s); task log ${log.ref}\n`);
      });
    });

  keys
    .command('retire <term>')
    .description('Destroy the key of a term that no longer protects any value')
    .action(async (termText: string) => {
      const config = configOrExit();
      const term = Number.parseInt(termText, 10);
      if (!Number.isInteger(term) || term < 1 || String(term) !== termText)
        throw new Error(`not a key term: ${termText}`);
      const client = await connectToServer(config);
      if (client) {
        say('online', `retire term ${term}`);
        await client.keys.retireTerm(term);
      } else {
        say('offline', `retire term ${term}`);
        await withOffline(config, { unseal: true }, (ctx) =>
          ctx.keys.retire(term, (trx) =>
            ctx.record({ action: 'keys.term.retire', resource: { type: 'key-term', id: String(term) } }, trx),
          ),
        );
      }
      process.stdout.write(`term ${term} retired; its key is destroyed\n`);
    });

  keys
    .command('export')
    .description(
      'Write the UNWRAPPED data key of every dataset version of a workspace to a file (0600), to decrypt the objects without Strongroom (strongroom decrypt). Needs the running server; audited as keys.workspace.export.',
    )
    .requiredOption('--workspace <ws>', 'workspace id')
    .requiredOption('--out <file>', 'the file to create (refused if it exists)')
    .action(async (o: { workspace: string; out: string }) => {
      const config = configOrExit();
      const client = await connectToServer(config);
      if (!client)
        throw new CliExit(
          EXIT.FAILED,
          'key export needs the running server (it unwraps the keys with the unsealed keyring): start it with strongroom serve',
        );
      say('online', `export the data keys of workspace ${o.workspace}`);
      const r = await client.keys.exportWorkspace(o.workspace);
      try {
        await writeFile(o.out, `${JSON.stringify(r, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new CliExit(
            EXIT.USAGE,
            `${o.out} exists: choose a new file (the export is never written over another file)`,
          );
        throw err;
      }
      process.stdout.write(
        `${r.objects.length} object key(s) of workspace ${o.workspace} written to ${o.out} (mode 0600)\n`,
      );
      process.stderr.write(
        'WARNING: this file decrypts every dataset version listed in it, without Strongroom and without any audit.\nIt is as sensitive as the data itself: keep it offline and encrypted, and destroy it when done.\n',
      );
    });

  keys
    .command('rotate-root')
    .description('Replace the root key (file provider); only the keyring is re-encrypted')
    .action(async () => {
      const config = configOrExit();
      const client = await connectToServer(config);
      if (client) {
        say('online', 'rotate the root key');
        await client.keys.rotateRoot();
      } else {
        say('offline', 'rotate the root key');
        await withOffline(config, { unseal: true }, (ctx) =>
          rotateFileRootKey(ctx.keys, config, (trx) => ctx.record({ action: 'keys.root.rotate' }, trx)),
        );
      }
      process.stdout.write('root key rotated; the keyring is re-sealed under the new key\n');
    });
}

async function rotateWorkspaceKey(
  config: Parameters<typeof connectToServer>[0],
  workspace: string,
  rewrap: boolean,
  json: boolean,
): Promise<void> {
  const api = await workspaceKeysClient(config, `rotate the key of workspace ${workspace}`);
  const rotated = await api.keys.rotateWorkspace(workspace);
  const started = rewrap ? await api.keys.rewrapWorkspace(workspace) : undefined;
  const status = await api.keys.workspaceStatus(workspace);
  if (json) {
    process.stdout.write(`${JSON.stringify({ rotated, rewrap: started ?? null, status }, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    `workspace ${workspace}: key version ${rotated.previousVersion} → ${rotated.keyVersion}; new data keys are wrapped under version ${rotated.keyVersion}\n`,
  );
  if (started)
    process.stdout.write(
      `rewrap started as task ${started.taskId} (log: ${started.taskLog}); progress: 'strongroom keys status --workspace ${workspace}'\n`,
    );
  else if (underOlder(status) > 0)
    process.stdout.write(
      `${underOlder(status)} data key(s) still under older versions: run 'strongroom keys rewrap --workspace ${workspace}'\n`,
    );
}
