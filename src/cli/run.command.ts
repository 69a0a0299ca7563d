/**
 * `strongroom run --secret NAME=path[:field][@version] … -- command args…`: reveal secrets through
 * the API and start `command` with them as environment variables. Values go only into the child's
 * environment: nothing is written to disk or printed. The exit code is the child's.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Command } from 'commander';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { revealSecret, valueText, vaultSession, type ReauthOptions } from './secret.command.ts';

const SPEC =
  /^([A-Za-z_][A-Za-z0-9_]{0,127})=([A-Za-z0-9._/-]{1,200}?)(?::([A-Za-z0-9._-]{1,128}))?(?:@([1-9][0-9]{0,9}))?$/;

export interface SecretSpec {
  name: string;
  path: string;
  field?: string;
  version?: number;
}

export function parseSpec(spec: string): SecretSpec {
  const m = SPEC.exec(spec);
  if (!m)
    throw new CliExit(
      EXIT.USAGE,
      `--secret ${JSON.stringify(spec.split('=')[0])}=…: expected NAME=path[:field][@version]`,
    );
  return { name: m[1]!, path: m[2]!, ...(m[3] ? { field: m[3] } : {}), ...(m[4] ? { version: Number(m[4]) } : {}) };
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Run a command with secrets from the vault as environment variables (never written anywhere)')
    .argument('<command...>', 'the command and its arguments, after --')
    .requiredOption('--secret <spec...>', 'NAME=path[:field][@version], repeatable')
    .option('--workspace <ws>', 'workspace id', 'default')
    .option('--password-file <file>', 'password for re-authentication, if asked')
    .option('--totp-file <file>', 'TOTP code for re-authentication, if asked')
    .action(async (command: string[], o: { secret: string[]; workspace: string } & ReauthOptions) => {
      const specs = o.secret.map(parseSpec);
      const c = await vaultSession();
      const env: Record<string, string> = {};
      for (const s of specs) env[s.name] = valueText(await revealSecret(c, o.workspace, s.path, s.version, o), s.field);
      const [cmd, ...args] = command;
      const child = spawn(cmd!, args, { stdio: 'inherit', env: { ...process.env, ...env } });
      const forward = (sig: NodeJS.Signals) => child.kill(sig);
      process.on('SIGINT', forward).on('SIGTERM', forward);
      const code = await new Promise<number>((resolve, reject) => {
        child.once('error', (err) => reject(new CliExit(EXIT.FAILED, `cannot start ${cmd}: ${err.message}`)));
        child.once('exit', (status, signal) =>
          resolve(status ?? (signal ? 128 + (constants.signals[signal] ?? 1) : EXIT.FAILED)),
        );
      });
      process.off('SIGINT', forward).off('SIGTERM', forward);
      process.exitCode = code;
    });
}
