import type { Command } from 'commander';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { databaseSpec, prepareHome, tlsFilesFor } from '../server/main.ts';
import { ensureSelfSignedCert, loadTlsMaterial } from '../server/tls.ts';
import { configOrExit } from './context.ts';

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('Prepare a data directory non-interactively: directory (0700), TLS material, database schema. Safe to run again.')
    .action(async () => {
      const config = configOrExit();
      await prepareHome(config.STRONGROOM_HOME);
      const tlsFiles = tlsFilesFor(config);
      const generated = tlsFiles.selfSigned ? await ensureSelfSignedCert(config.STRONGROOM_HOME) : false;
      const tls = await loadTlsMaterial(tlsFiles);
      const database = await openDatabase(databaseSpec(config));
      try {
        const applied = await migrateToLatest(database.db as never);
        process.stdout.write(
          [
            `Data directory  ${config.STRONGROOM_HOME}`,
            `TLS             ${tlsFiles.certFile} (${generated ? 'generated' : 'kept'}; valid until ${tls.notAfter.toISOString()})`,
            `Database        ${database.summary} (${applied.length} migration(s) applied)`,
            "Ready: start with 'strongroom serve'.",
            '',
          ].join('\n'),
        );
      } finally {
        await database.close();
      }
    });
}
