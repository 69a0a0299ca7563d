/**
 * `strongroom task list | show | logs`: background task runs and their logs, through the running
 * server (operator credential). Logs are encrypted on the system drive: only the server, unsealed,
 * can read them.
 */
import type { Command } from 'commander';
import { CliExit, configOrExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { connectToServer } from './server-link.ts';

async function api() {
  const client = await connectToServer(configOrExit());
  if (!client) throw new CliExit(EXIT.USAGE, 'task logs are read through the running server: start it first');
  return client;
}

export function registerTaskCommand(program: Command): void {
  const task = program.command('task').description('Background task runs and their encrypted logs');
  task
    .command('list')
    .description('Recent task runs, newest first')
    .option('--kind <kind>', 'only this kind (rewrap, drive-health, posture-check …)')
    .option('--limit <n>', 'how many', '20')
    .option('--json', 'print JSON')
    .action(async (opts: { kind?: string; limit: string; json?: boolean }) => {
      const { tasks } = await (await api()).tasks.list(opts.kind, Number(opts.limit));
      if (opts.json) return void process.stdout.write(`${JSON.stringify(tasks, null, 2)}\n`);
      for (const t of tasks)
        process.stdout.write(
          `${t.status.padEnd(9)}  ${t.startedAt}  ${t.kind.padEnd(14)}  ${t.id}  ${JSON.stringify(t.progress)}\n`,
        );
      if (tasks.length === 0) process.stdout.write('no task runs yet\n');
    });
  task
    .command('show <id>')
    .description('One task run: status, progress, where its log is')
    .action(async (id: string) => {
      process.stdout.write(`${JSON.stringify(await (await api()).tasks.get(id), null, 2)}\n`);
    });
  task
    .command('logs <id>')
    .description('The decrypted log of a task run, one JSON line per entry')
    .action(async (id: string) => {
      const { entries } = await (await api()).tasks.log(id);
      for (const e of entries) process.stdout.write(`${JSON.stringify(e)}\n`);
    });
}
