/** `strongroom token create|list|revoke`: your API tokens, through the API with the session from `strongroom login`. */
import type { Command } from 'commander';
import { loadCredentials, sessionApi } from './credentials.ts';

export function registerTokenCommand(program: Command): void {
  const token = program.command('token').description('Manage your API tokens (sign in first with strongroom login)');
  token
    .command('create <name>')
    .description('Create a token (shown once). Needs a sign-in or re-authentication within the last 5 minutes.')
    .requiredOption('--scope <action...>', 'allowed actions, e.g. identity.self.read or vault.*')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--days <n>', 'days until it expires (1–365)', '30')
    .action(async (name: string, o: { scope: string[]; workspace: string; days: string }) => {
      const r = await sessionApi(await loadCredentials()).tokens.create({
        name,
        workspace: o.workspace,
        scopes: o.scope,
        expiresInDays: Number(o.days),
      });
      process.stderr.write(`token ${r.info.id} expires ${r.info.expiresAt}; it is shown only now:\n`);
      process.stdout.write(`${r.token}\n`);
    });
  token
    .command('list')
    .description('List your tokens (never their values)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await sessionApi(await loadCredentials()).tokens.list();
      if (o.json) return void process.stdout.write(`${JSON.stringify(r.tokens, null, 2)}\n`);
      for (const t of r.tokens)
        process.stdout.write(
          `${t.id}  ${t.name}  ${t.workspace}  ${t.scopes.join(',')}  expires ${t.expiresAt}${t.revokedAt ? '  REVOKED' : ''}  last used ${t.lastUsedAt ?? 'never'}\n`,
        );
    });
  token
    .command('revoke <id>')
    .description('Revoke one of your tokens at once')
    .action(async (id: string) => {
      await sessionApi(await loadCredentials()).tokens.revoke(id);
      process.stdout.write(`revoked ${id}\n`);
    });
}
