import type { Command } from 'commander';
import { runDoctor, type Check } from './doctor.checks.ts';
import { configOrExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

const LABEL: Record<Check['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('Check each security control and print pass/warn/fail with evidence; exit 1 on any fail')
    .option('--json', 'print the checks as JSON')
    .action(async (opts: { json?: boolean }) => {
      const config = configOrExit();
      const checks = await runDoctor(config);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ checks }, null, 2)}\n`);
      } else {
        const width = Math.max(...checks.map((c) => c.name.length));
        for (const c of checks) process.stdout.write(`${LABEL[c.status]}  ${c.name.padEnd(width)}  ${c.evidence}\n`);
        const n = (s: Check['status']) => checks.filter((c) => c.status === s).length;
        process.stdout.write(`\n${n('pass')} passed, ${n('warn')} warnings, ${n('fail')} failed\n`);
      }
      if (checks.some((c) => c.status === 'fail')) process.exitCode = EXIT.FAILED;
    });
}
