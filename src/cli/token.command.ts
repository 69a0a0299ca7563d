/** `strongroom token create|list|revoke`: your API tokens, through the API with the session from `strongroom login`. */
import type { Command } from 'commander';
import { call, loadCredentials } from './credentials.ts';

interface TokenOut { id: string; name: string; workspace: string; scopes: string[]; expiresAt: string; revokedAt: string | null; lastUsedAt: string | null }

export function registerTokenCommand(program: Command): void {
  const token = program.command('token').description('Manage your API tokens (sign in first with strongroom login)');
  token
    .command('create <name>')
    .description('Create a token (shown once). Needs a sign-in or re-authentication within the last 5 minutes.')
    .requiredOption('--scope <action...>', 'allowed actions, e.g. identity.self.read or vault.*')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--days <n>', 'days until it expires (1–365)', '30')
    .action(async (name: string, o: { scope: string[]; workspace: string; days: string }) => {
      const c = await loadCredentials();
      const r = await call<{ token: string; info: TokenOut }>(c, 'POST', '/api/v1/tokens', { name, workspace: o.workspace, scopes: o.scope, expiresInDays: Number(o.days) });
      process.stderr.write(`token ${r.body.info.id} expires ${r.body.info.expiresAt}; it is shown only now:\n`);
      process.stdout.write(`${r.body.token}\n`);
    });
  token
    .command('list')
    .description('List your tokens (never their values)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const c = await loadCredentials();
      const r = await call<{ tokens: TokenOut[] }>(c, 'GET', '/api/v1/tokens');
      if (o.json) return void process.stdout.write(`${JSON.stringify(r.body.tokens, null, 2)}\n`);
      for (const t of r.body.tokens) process.stdout.write(`${t.id}  ${t.name}  ${t.workspace}  ${t.scopes.join(',')}  expires ${t.expiresAt}${t.revokedAt ? '  REVOKED' : ''}  last used ${t.lastUsedAt ?? 'never'}\n`);
    });
  token
    .command('revoke <id>')
    .description('Revoke one of your tokens at once')
    .action(async (id: string) => {
      const c = await loadCredentials();
      await call(c, 'DELETE', `/api/v1/tokens/${encodeURIComponent(id)}`);
      process.stdout.write(`revoked ${id}\n`);
    });
}
