/**
 * `strongroom` — the command line. Each command group lives in its own file. The CLI never imports
 * the server: `serve` gets the server's start function from the composition root
 * (`src/strongroom.ts`), and what both need of the installation lives in `src/installation/`.
 */
import { Command, CommanderError } from 'commander';
import { registerConfigCommand } from './config.command.ts';
import { explain } from './context.ts';
import { registerDoctorCommand } from './doctor.command.ts';
import { EXIT } from './exit-codes.ts';
import { registerAuditCommand } from './audit.command.ts';
import { registerInitCommand } from './init.command.ts';
import { registerKeysCommand } from './keys.command.ts';
import { registerOperatorCommand } from './operator.command.ts';
import { registerServeCommand, type StartServer } from './serve.command.ts';
import { registerLoginCommand } from './login.command.ts';
import { registerUserCommand } from './user.command.ts';
import { registerTokenCommand } from './token.command.ts';
import { registerSecretCommand } from './secret.command.ts';
import { registerDriveCommand } from './drive.command.ts';
import { registerRunCommand } from './run.command.ts';
import { registerDatasetCommand } from './dataset.command.ts';
import { registerDecryptCommand } from './decrypt.command.ts';
import { registerBackupCommand } from './backup.command.ts';
import { registerEvidenceCommand } from './evidence.command.ts';
import { registerTaskCommand } from './task.command.ts';
import { registerQueryCommand } from './query.command.ts';
import { registerSsoCommand } from './sso.command.ts';
import { registerRetentionCommand } from './retention.command.ts';
import { registerPolicyCommand } from './policy.command.ts';
import { registerProfileCommand } from './profile.command.ts';

export function buildProgram(deps: { startServer: StartServer }): Command {
  const program = new Command('strongroom')
    .description('Strongroom: your buckets, your keys, every access governed and audited.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  program.addHelpText(
    'after',
    `
Exit codes: 0 success, 1 the command ran and found a failure, 2 usage or configuration error.
Configuration comes from environment variables: run 'strongroom config' to list them.`,
  );
  registerServeCommand(program, deps.startServer);
  registerInitCommand(program);
  registerDoctorCommand(program);
  registerKeysCommand(program);
  registerOperatorCommand(program);
  registerAuditCommand(program);
  registerLoginCommand(program);
  registerUserCommand(program);
  registerTokenCommand(program);
  registerSecretCommand(program);
  registerDriveCommand(program);
  registerRunCommand(program);
  registerDatasetCommand(program);
  registerQueryCommand(program);
  registerDecryptCommand(program);
  registerBackupCommand(program);
  registerEvidenceCommand(program);
  registerTaskCommand(program);
  registerSsoCommand(program);
  registerRetentionCommand(program);
  registerPolicyCommand(program);
  registerProfileCommand(program);
  registerConfigCommand(program);
  return program;
}

/** Runs the command line; sets `process.exitCode` (never throws). */
export async function runCli(argv: string[], deps: { startServer: StartServer }): Promise<void> {
  try {
    await buildProgram(deps).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    const e = explain(err);
    process.stderr.write(`strongroom: ${e.message}\n`);
    process.exitCode = e.exitCode;
  }
}
