import type { Command } from 'commander';
import { describeConfig } from '../core/config.ts';
import { configOrExit } from './context.ts';

export function registerConfigCommand(program: Command): void {
  const cmd = program
    .command('config')
    .description('List every configuration variable with its default and meaning')
    .action(() => {
      const rows = describeConfig();
      for (const r of rows) {
        process.stdout.write(`${r.name}${r.default ? ` (default: ${r.default})` : ''}\n    ${r.description}\n`);
      }
      process.stdout.write(
        '\nVariables marked "Secret" may instead be given as <NAME>_FILE, a path to a file holding the value.\n',
      );
    });
  cmd
    .command('check')
    .description('Validate the current environment; exit 2 with every problem listed if it is invalid')
    .action(() => {
      const c = configOrExit();
      process.stdout.write(`Configuration is valid. Data directory: ${c.STRONGROOM_HOME}\n`);
    });
}
