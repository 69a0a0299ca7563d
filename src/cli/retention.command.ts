/**
 * `strongroom retention show|set|purge`, `strongroom hold add|list|remove`,
 * `strongroom workspace terminate|cancel-termination` and `strongroom user export|erase`, through
 * the running server (operator). `user export` writes the JSON to a new 0600 file.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliExit, configOrExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { connectToServer, say } from './server-link.ts';
import type { RetentionPreview } from '../contracts/index.ts';

function print(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

async function online() {
  const client = await connectToServer(configOrExit());
  if (!client) throw new CliExit(EXIT.FAILED, 'this needs the running server: start it with strongroom serve');
  return client;
}

/** The preview in words (stderr; the JSON goes to stdout for scripts). */
export function previewText(p: RetentionPreview): string {
  const a = p.audit;
  const lines = [
    a.events > 0
      ? `audit: ${a.events} events (seq ${a.firstSeq}..${a.lastSeq}, ${a.firstTime} to ${a.lastTime}) would be pruned, up to the last signed checkpoint before ${a.before}`
      : `audit: no event would be pruned (cutoff ${a.before})`,
  ];
  if (a.blockedByHold) lines.push('audit: a legal hold keeps some older events');
  if (a.belowRecommended) lines.push(`audit: ${p.classes.audit} days is below 365 (PCI DSS asks for 12 months)`);
  lines.push(`task logs: ${p.taskLogs.files} files older than ${p.taskLogs.before} would be deleted`);
  for (const t of p.terminations.pending)
    lines.push(
      `workspace ${t.workspace}: purged after ${t.purgeAfter}${t.held ? ' (held: not while the hold stands)' : ''}`,
    );
  lines.push(`terminations requested from now on: ${p.terminations.graceDaysForNew} days of grace`);
  return lines.join('\n');
}

function days(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliExit(EXIT.USAGE, `not a number of days: ${v}`);
  return n;
}

/** The command named `name`, created if the program has none yet. */
function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

export function registerRetentionCommand(program: Command): void {
  const retention = program.command('retention').description('How long each class of data is kept, and the purge');
  retention
    .command('show')
    .description('Classes (days), legal holds and terminated workspaces')
    .action(async () => print(await (await online()).retention.show()));
  retention
    .command('set <class> <days>')
    .description('Set a class: audit, task-logs, terminated-workspaces (backups: see `backup`)')
    .option('--dry-run', 'save nothing: show what the next purge would delete with this setting')
    .action(async (cls: string, d: string, o: { dryRun?: boolean }) => {
      const client = await online();
      if (!o.dryRun) return print(await client.retention.set({ [cls]: days(d) }));
      const p = await client.retention.preview({ [cls]: days(d) });
      process.stderr.write(`${previewText(p)}\n`);
      print(p);
    });
  retention
    .command('purge')
    .description('Run the purge now (it also runs daily)')
    .action(async () => {
      say('online', 'retention purge');
      print(await (await online()).retention.purge());
    });

  const hold = program.command('hold').description('Legal holds: what they cover is never purged or erased');
  hold
    .command('add <scope> <target>')
    .description('scope: workspace | dataset | user (a user by id)')
    .requiredOption('--reason <text>', 'why (recorded in the audit trail)')
    .option('--workspace <ws>', "a dataset's workspace")
    .action(async (scope: string, target: string, o: { reason: string; workspace?: string }) =>
      print(
        await (
          await online()
        ).retention.addHold({ scope, target, reason: o.reason, ...(o.workspace ? { workspace: o.workspace } : {}) }),
      ),
    );
  hold
    .command('list')
    .option('--all', 'released holds too')
    .action(async (o: { all?: boolean }) => print(await (await online()).retention.holds(o.all === true)));
  hold.command('remove <id>').action(async (id: string) => print(await (await online()).retention.releaseHold(id)));

  const ws = group(program, 'workspace', 'Workspaces');
  ws.command('terminate <ws>')
    .description('Read-only grace period (the terminated-workspaces class), then its key is destroyed')
    .action(async (w: string) => print(await (await online()).retention.terminate(w)));
  ws.command('cancel-termination <ws>').action(async (w: string) =>
    print(await (await online()).retention.cancelTermination(w)),
  );

  const user = group(program, 'user', 'Users');
  user
    .command('export <id>')
    .description('Everything held about a user, as JSON, into a new 0600 file')
    .requiredOption('--out <file>', 'file to create (refused if it exists)')
    .action(async (id: string, o: { out: string }) => {
      const data = await (await online()).retention.exportUser(id);
      try {
        await writeFile(o.out, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new CliExit(EXIT.USAGE, `${o.out} exists`);
        throw err;
      }
      process.stdout.write(`export of ${id} written to ${o.out} (0600)\n`);
    });
  user
    .command('erase <id>')
    .description("Erase a user's personal data (refused under a legal hold); the audit trail keeps a pseudonym")
    .requiredOption('--yes', 'confirm: this cannot be undone')
    .action(async (id: string) => print(await (await online()).retention.eraseUser(id)));
}
