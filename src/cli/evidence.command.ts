/**
 * `strongroom evidence verify FILE --public-key PEM`: checks an evidence pack offline — no server,
 * no data directory — against the audit public key the auditor obtained separately (written by
 * `strongroom doctor --evidence DIR` as audit-public-key.pem). Exit 0 when the signature holds,
 * 1 when it does not, 2 when the files cannot be read.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { verifyEvidencePack } from '../modules/posture/index.ts';
import { CliExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

export function registerEvidenceCommand(program: Command): void {
  const evidence = program.command('evidence').description('Security evidence packs');
  evidence
    .command('verify <file>')
    .description('Check the signature of an evidence pack with the exported audit public key (offline)')
    .requiredOption('--public-key <pem>', 'the audit public key (PEM), obtained from the installation separately')
    .action(async (file: string, opts: { publicKey: string }) => {
      const read = (f: string) =>
        readFile(f, 'utf8').catch(() => Promise.reject(new CliExit(EXIT.USAGE, `cannot read ${f}`)));
      const [text, pem] = await Promise.all([read(file), read(opts.publicKey)]);
      let pack: unknown;
      try {
        pack = JSON.parse(text);
      } catch {
        throw new CliExit(EXIT.FAILED, `${file} is not JSON: not an evidence pack`);
      }
      const verdict = verifyEvidencePack(pack, pem);
      if (!verdict.ok) {
        process.stdout.write(`INVALID  ${file}\n${verdict.problems.map((p) => `  - ${p}`).join('\n')}\n`);
        process.exitCode = EXIT.FAILED;
        return;
      }
      const p = pack as {
        installationId: string;
        generatedAt: string;
        scope: string;
        auditHead: { seq: number };
        report: { counts: Record<string, number> };
      };
      process.stdout.write(
        `VALID  ${file}\n  signed by audit key ${verdict.keyId}\n  installation ${p.installationId}, ${p.scope}, generated ${p.generatedAt}\n  audit head at seq ${p.auditHead.seq}; controls: ${p.report.counts.pass} pass, ${p.report.counts.warn} warn, ${p.report.counts.fail} fail\n`,
      );
    });
}
