/** `strongroom user add|list|disable`: workspace users, through the API with the session from `strongroom login`. */
import type { Command } from 'commander';
import { call, loadCredentials, readSecret } from './credentials.ts';

interface UserOut { id: string; email: string; displayName: string; status: string; mfaEnabled: boolean; roles: string[] }

export function registerUserCommand(program: Command): void {
  const user = program.command('user').description('Manage users of a workspace (needs owner/admin; sign in first with strongroom login)');
  user
    .command('add <email>')
    .description('Create a user with a role in the workspace')
    .requiredOption('--role <role>', 'owner, admin, steward, engineer, analyst, viewer or auditor')
    .option('--name <displayName>', 'display name (default: the email local part)')
    .option('--password-file <file>', 'initial password from this file (prompted on a terminal otherwise)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (email: string, o: { role: string; name?: string; passwordFile?: string; workspace: string }) => {
      const c = await loadCredentials();
      const password = await readSecret('Initial password: ', o.passwordFile);
      const r = await call<{ user: UserOut }>(c, 'POST', `/api/v1/workspaces/${encodeURIComponent(o.workspace)}/users`, { email, displayName: o.name ?? email.split('@')[0], password, role: o.role });
      process.stdout.write(`created ${r.body.user.email} (${r.body.user.id}) as ${o.role} in ${o.workspace}\n`);
    });
  user
    .command('list')
    .description('List the users of a workspace with their roles')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--json', 'print JSON')
    .action(async (o: { workspace: string; json?: boolean }) => {
      const c = await loadCredentials();
      const r = await call<{ users: UserOut[] }>(c, 'GET', `/api/v1/workspaces/${encodeURIComponent(o.workspace)}/users`);
      if (o.json) return void process.stdout.write(`${JSON.stringify(r.body.users, null, 2)}\n`);
      for (const u of r.body.users) process.stdout.write(`${u.id}  ${u.email}  ${u.status}  ${u.roles.join(',')}  mfa=${u.mfaEnabled ? 'on' : 'off'}\n`);
    });
  user
    .command('disable <id>')
    .description('Disable a user: every session ends at once, tokens stop working')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (id: string, o: { workspace: string }) => {
      const c = await loadCredentials();
      await call(c, 'POST', `/api/v1/workspaces/${encodeURIComponent(o.workspace)}/users/${encodeURIComponent(id)}/disable`);
      process.stdout.write(`disabled ${id}\n`);
    });
}
