import type { Command } from 'commander';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { databaseSpec, prepareHome, tlsFilesFor } from '../server/main.ts';
import { ensureSelfSignedCert, loadTlsMaterial } from '../server/tls.ts';
import pino from 'pino';
import { createBarrier } from '../core/crypto/barrier.ts';
import { createKeysService } from '../modules/keys/index.ts';
import { ensureOperatorToken, operatorTokenPath } from '../server/operator-token.ts';
import { rootKeyProviderFor } from '../server/root-key.ts';
import { configOrExit } from './context.ts';

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('Prepare a data directory non-interactively: directory (0700), TLS material, database schema, root key and keyring (STRONGROOM_ROOT_KEY_PROVIDER), operator token. Safe to run again.')
    .action(async () => {
      const config = configOrExit();
      await prepareHome(config.STRONGROOM_HOME);
      const tlsFiles = tlsFilesFor(config);
      const generated = tlsFiles.selfSigned ? await ensureSelfSignedCert(config.STRONGROOM_HOME) : false;
      const tls = await loadTlsMaterial(tlsFiles);
      const database = await openDatabase(databaseSpec(config));
      try {
        const applied = await migrateToLatest(database.db as never);
        const keys = createKeysService({ db: database.db, barrier: createBarrier(), provider: rootKeyProviderFor(config), logger: pino({ level: 'silent' }) });
        let keyLine = `root key (${keys.provider.kind}) and keyring already exist; kept`;
        let shares: string[] = [];
        if ((await keys.state()) === 'uninitialized') {
          shares = (await keys.initialize()).shares ?? [];
          keyLine = `root key (${keys.provider.kind}) and keyring term 1 created`;
        }
        await ensureOperatorToken(config.STRONGROOM_HOME);
        process.stdout.write(
          [
            `Data directory  ${config.STRONGROOM_HOME}`,
            `TLS             ${tlsFiles.certFile} (${generated ? 'generated' : 'kept'}; valid until ${tls.notAfter.toISOString()})`,
            `Database        ${database.summary} (${applied.length} migration(s) applied)`,
            `Keys            ${keyLine}`,
            `Operator token  ${operatorTokenPath(config.STRONGROOM_HOME)} (0600; used by the CLI against a running server)`,
            "Ready: start with 'strongroom serve'.",
            '',
          ].join('\n'),
        );
        if (shares.length > 0) {
          process.stdout.write(
            [
              '',
              `UNSEAL SHARES — shown once. Give each to a different person; any ${config.STRONGROOM_SHAMIR_THRESHOLD} of ${shares.length} unseal the server.`,
              ...shares.map((s, i) => `  share ${i + 1}: ${s}`),
              "The server starts sealed; each holder runs 'strongroom operator unseal' and pastes their share.",
              '',
            ].join('\n'),
          );
        }
      } finally {
        await database.close();
      }
    });
}
