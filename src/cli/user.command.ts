/** `strongroom user add|list|disable|enable|attributes`: workspace users, through the API with the session from `strongroom login`. */
import type { Command } from 'commander';
import { loadCredentials, readSecret, sessionApi } from './credentials.ts';

export function registerUserCommand(program: Command): void {
  const user = program
    .command('user')
    .description('Manage users of a workspace (needs owner/admin; sign in first with strongroom login)');
  user
    .command('add <email>')
    .description('Create a user with a role in the workspace')
    .requiredOption('--role <role>', 'owner, admin, steward, engineer, analyst, viewer or auditor')
    .option('--name <displayName>', 'display name (default: the email local part)')
    .option('--password-file <file>', 'initial password from this file (prompted on a terminal otherwise)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (email: string, o: { role: string; name?: string; passwordFile?: string; workspace: string }) => {
      const api = sessionApi(await loadCredentials());
      const password = await readSecret('Initial password: ', o.passwordFile);
      const r = await api.users.create(o.workspace, {
        email,
        displayName: o.name ?? email.split('@')[0]!,
        password,
        role: o.role,
      });
      process.stdout.write(`created ${r.user.email} (${r.user.id}) as ${o.role} in ${o.workspace}\n`);
    });
  user
    .command('list')
    .description('List the users of a workspace with their roles')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--json', 'print JSON')
    .action(async (o: { workspace: string; json?: boolean }) => {
      const r = await sessionApi(await loadCredentials()).users.list(o.workspace);
      if (o.json) return void process.stdout.write(`${JSON.stringify(r.users, null, 2)}\n`);
      for (const u of r.users)
        process.stdout.write(
          `${u.id}  ${u.email}  ${u.status}  ${u.roles.join(',')}  mfa=${u.mfaEnabled ? 'on' : 'off'}  last-sign-in=${u.lastSignInAt ?? 'never'}\n`,
        );
    });
  user
    .command('disable <id>')
    .description('Disable a user: every session ends at once, tokens stop working')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (id: string, o: { workspace: string }) => {
      await sessionApi(await loadCredentials()).users.disable(o.workspace, id);
      process.stdout.write(`disabled ${id}\n`);
    });
  user
    .command('enable <id>')
    .description('Re-enable a disabled user (they sign in again; earlier sessions stay ended)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (id: string, o: { workspace: string }) => {
      await sessionApi(await loadCredentials()).users.enable(o.workspace, id);
      process.stdout.write(`enabled ${id}\n`);
    });
  user
    .command('attributes <id>')
    .description('Set the attributes the access rules read (replaces all three; pii needs clearance >= 2)')
    .option('--department <name>', 'department (empty or absent: none)')
    .option('--region <name>', 'region, e.g. eu (empty or absent: none)')
    .option('--clearance <n>', 'clearance 0-9 (absent: none)')
    .option('--workspace <ws>', 'workspace id', 'default')
    .action(async (id: string, o: { department?: string; region?: string; clearance?: string; workspace: string }) => {
      const clearance = o.clearance === undefined ? undefined : Number(o.clearance);
      const r = await sessionApi(await loadCredentials()).users.setAttributes(o.workspace, id, {
        ...(o.department !== undefined ? { department: o.department } : {}),
        ...(o.region !== undefined ? { region: o.region } : {}),
        ...(clearance !== undefined ? { clearance } : {}),
      });
      const shown = Object.entries(r.attributes).map(([k, v]) => `${k}=${String(v)}`);
      process.stdout.write(`attributes of ${id}: ${shown.join(' ') || 'none'}\n`);
    });
}
