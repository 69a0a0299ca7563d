import type { Command } from 'commander';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { databaseSpec, prepareHome, tlsFilesFor } from '../installation/home.ts';
import { ensureSelfSignedCert, loadTlsMaterial } from '../installation/tls.ts';
import pino from 'pino';
import { createBarrier } from '../core/crypto/barrier.ts';
import { createKeysService } from '../modules/keys/index.ts';
import { ensureOperatorToken, operatorTokenPath } from '../installation/operator-token.ts';
import { rootKeyProviderFor } from '../installation/root-key.ts';
import { readFile } from 'node:fs/promises';
import { createIdentityModule } from '../modules/identity/index.ts';
import { CliExit, configOrExit } from './context.ts';
import { EXIT } from './exit-codes.ts';

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description(
      'Prepare a data directory non-interactively: directory (0700), TLS material, database schema, root key and keyring (STRONGROOM_ROOT_KEY_PROVIDER), operator token. Safe to run again.',
    )
    .option(
      '--admin-email <email>',
      'create the first user, owner of the default workspace (MFA enrolment is required at first sign-in)',
    )
    .option(
      '--admin-password-file <file>',
      "the first user's password (NIST rules: 15+ characters, not common, no name/email/product words)",
    )
    .option('--admin-name <name>', "the first user's display name (default: the email local part)")
    .action(async (o: { adminEmail?: string; adminPasswordFile?: string; adminName?: string }) => {
      const config = configOrExit();
      if (Boolean(o.adminEmail) !== Boolean(o.adminPasswordFile))
        throw new CliExit(EXIT.USAGE, '--admin-email and --admin-password-file go together.');
      await prepareHome(config.STRONGROOM_HOME);
      const tlsFiles = tlsFilesFor(config);
      const generated = tlsFiles.selfSigned ? await ensureSelfSignedCert(config.STRONGROOM_HOME) : false;
      const tls = await loadTlsMaterial(tlsFiles);
      const database = await openDatabase(databaseSpec(config));
      try {
        const applied = await migrateToLatest(database.db as never);
        const keys = createKeysService({
          db: database.db,
          barrier: createBarrier(),
          provider: rootKeyProviderFor(config),
          logger: pino({ level: 'silent' }),
        });
        let keyLine = `root key (${keys.provider.kind}) and keyring already exist; kept`;
        let shares: string[] = [];
        if ((await keys.state()) === 'uninitialized') {
          shares = (await keys.initialize()).shares ?? [];
          keyLine = `root key (${keys.provider.kind}) and keyring term 1 created`;
        }
        await ensureOperatorToken(config.STRONGROOM_HOME);
        let adminLine = 'none yet: the first serve prints a one-time setup token';
        if (o.adminEmail && o.adminPasswordFile) {
          const identity = createIdentityModule({ db: database.db, barrier: createBarrier(), config });
          const password = (await readFile(o.adminPasswordFile, 'utf8')).replace(/\r?\n$/, '');
          if ((await identity.users.count()) > 0) {
            adminLine = 'users already exist; --admin-email ignored';
          } else {
            const why = identity.checkPassword(password, {
              email: o.adminEmail,
              displayName: o.adminName ?? '',
              mfa: false,
            });
            if (why) throw new CliExit(EXIT.USAGE, `--admin-password-file: ${why}`);
            const u = await identity.users.create({
              email: o.adminEmail,
              displayName: o.adminName ?? o.adminEmail.split('@')[0]!,
              password,
              memberships: [{ workspace: 'default', role: 'owner' }],
            });
            adminLine = `${u.email} created as owner of 'default' (enrol MFA at first sign-in)`;
          }
        }
        process.stdout.write(
          [
            `Data directory  ${config.STRONGROOM_HOME}`,
            `TLS             ${tlsFiles.certFile} (${generated ? 'generated' : 'kept'}; valid until ${tls.notAfter.toISOString()})`,
            `Database        ${database.summary} (${applied.length} migration(s) applied)`,
            `Keys            ${keyLine}`,
            `Operator token  ${operatorTokenPath(config.STRONGROOM_HOME)} (0600; used by the CLI against a running server)`,
            `First admin     ${adminLine}`,
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
