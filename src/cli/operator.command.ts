/** `strongroom operator …`: seal state of a running server; unseal with Shamir shares. */
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { Api } from '../client/api.ts';
import { CliExit, configOrExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { connectToServer, say } from './server-link.ts';

async function requireServer(): Promise<Api> {
  const client = await connectToServer(configOrExit());
  if (!client)
    throw new CliExit(
      EXIT.FAILED,
      'the server is not running: sealing and unsealing apply to a running server (start it with strongroom serve)',
    );
  say('online', 'operator');
  return client;
}

/** One line from standard input; the share is never taken from argv (shell history, ps). */
async function readLine(prompt: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(prompt);
  const rl = createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  return '';
}

export function registerOperatorCommand(program: Command): void {
  const op = program.command('operator').description('Seal and unseal a running server');

  op.command('seal-status')
    .description('Show whether the server is sealed and, for Shamir, how many shares it needs')
    .action(async () => {
      const s = await (await requireServer()).sys.sealStatus();
      process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    });

  op.command('seal')
    .description('Wipe all key material from the server memory; every API then answers 503 SEALED')
    .action(async () => {
      await (await requireServer()).sys.seal();
      process.stdout.write('sealed\n');
    });

  op.command('unseal')
    .description('Submit one Shamir share, read from standard input (run once per share holder)')
    .option('--auto', 'file/HSM installations: reload the root key from its provider after an operator seal')
    .action(async (o: { auto?: boolean }) => {
      const api = await requireServer();
      if (o.auto) {
        await api.sys.reloadRootKey();
        process.stdout.write('unsealed\n');
        return;
      }
      const share = await readLine('unseal share: ');
      if (!share) throw new CliExit(EXIT.USAGE, 'no share on standard input');
      const r = await api.sys.unseal(share);
      process.stdout.write(r.sealed ? `share accepted: ${r.progress} of ${r.threshold}; still sealed\n` : 'unsealed\n');
    });
}
