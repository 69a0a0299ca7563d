import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { PostureReport } from '../contracts/index.ts';
import { runDoctor, type Check } from './doctor.checks.ts';
import { CliExit, configOrExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { connectToServer } from './server-link.ts';

const LABEL: Record<Check['status'], string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** Writes the signed pack, its HTML report and the audit public key into `dir` (0700/0600). */
async function writeEvidence(
  dir: string,
  bundle: { pack: unknown; html: string; publicKeyPem: string },
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(path.join(dir, 'evidence.json'), `${JSON.stringify(bundle.pack, null, 2)}\n`, { mode: 0o600 });
  await writeFile(path.join(dir, 'evidence.html'), bundle.html, { mode: 0o600 });
  await writeFile(path.join(dir, 'audit-public-key.pem'), bundle.publicKeyPem, { mode: 0o600 });
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'Check each security control and print pass/warn/fail with evidence: local checks, then the live posture of the running server; exit 1 on any fail',
    )
    .option('--json', 'print the checks as JSON')
    .option(
      '--evidence <dir>',
      'also write a signed evidence pack (evidence.json, evidence.html, audit-public-key.pem) to DIR',
    )
    .action(async (opts: { json?: boolean; evidence?: string }) => {
      const config = configOrExit();
      const checks = await runDoctor(config);
      const api = await connectToServer(config).catch(() => undefined);
      let posture: PostureReport | undefined;
      if (api && !(await api.sys.sealStatus()).sealed) posture = await api.posture.run().catch(() => undefined);
      if (opts.evidence !== undefined) {
        if (!api || !posture)
          throw new CliExit(EXIT.USAGE, 'an evidence pack is signed by the running, unsealed server: start it first');
        await writeEvidence(opts.evidence, await api.posture.evidence());
      }
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ checks, ...(posture ? { posture } : {}) }, null, 2)}\n`);
      } else {
        const width = Math.max(...checks.map((c) => c.name.length));
        for (const c of checks) process.stdout.write(`${LABEL[c.status]}  ${c.name.padEnd(width)}  ${c.evidence}\n`);
        const n = (s: Check['status']) => checks.filter((c) => c.status === s).length;
        process.stdout.write(`\n${n('pass')} passed, ${n('warn')} warnings, ${n('fail')} failed\n`);
        if (posture) {
          process.stdout.write(`\nSecurity posture of the running server (${posture.checkedAt}):\n`);
          const w = Math.max(...posture.controls.map((c) => c.id.length));
          for (const c of posture.controls) {
            process.stdout.write(`${LABEL[c.status]}  ${c.id.padEnd(w)}  ${c.summary}\n`);
            if (c.status !== 'pass') process.stdout.write(`      ${' '.repeat(w)}  fix: ${c.remedy}\n`);
          }
          const k = posture.counts;
          process.stdout.write(`\n${k.pass} passed, ${k.warn} warnings, ${k.fail} failed\n`);
        } else process.stdout.write('\nSecurity posture: not checked (the server is not running or is sealed)\n');
        if (opts.evidence !== undefined) process.stdout.write(`\nEvidence pack written to ${opts.evidence}\n`);
      }
      if (checks.some((c) => c.status === 'fail') || (posture?.counts.fail ?? 0) > 0) process.exitCode = EXIT.FAILED;
    });
}
