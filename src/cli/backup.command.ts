/**
 * `strongroom backup …`: targets, create, list, show, verify (the restore drill), prune and the
 * recovery key through the running server; `restore` offline, into a NEW data directory (PGlite)
 * or an empty PostgreSQL database, with the old root key file, the recovery key or its Shamir shares.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { restoreInstallation } from '../modules/backups/index.ts';
import { openBackupLocation } from './backup-source.ts';
import { CliExit, configOrExit } from './context.ts';
import { EXIT } from './exit-codes.ts';
import { connectToServer, say } from './server-link.ts';

function print(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

async function online() {
  const client = await connectToServer(configOrExit());
  if (!client) throw new CliExit(EXIT.FAILED, 'this needs the running server: start it with strongroom serve');
  return client;
}

export function registerBackupCommand(program: Command): void {
  const backup = program
    .command('backup')
    .description('Encrypted backups of the whole installation, restore and drills');

  const target = backup.command('target').description('Where backups go: a drive of a workspace');
  target
    .command('add <name>')
    .requiredOption('--workspace <ws>', 'workspace that owns the drive')
    .requiredOption('--drive <drive>', 'drive name')
    .option('--prefix <prefix>', 'folder on the drive', 'strongroom-backups')
    .option('--copy-objects', 'also copy the ciphertext of every dataset object here, incrementally, with each backup')
    .action(async (name: string, o: { workspace: string; drive: string; prefix: string; copyObjects?: boolean }) => {
      say('online', `add backup target ${name}`);
      print(
        await (
          await online()
        ).backups.addTarget({
          name,
          workspace: o.workspace,
          drive: o.drive,
          prefix: o.prefix,
          copyObjects: o.copyObjects === true,
        }),
      );
    });
  target
    .command('set <name>')
    .description("Change a target's settings")
    .requiredOption('--copy-objects <on|off>', 'copy dataset ciphertext objects to this target with each backup')
    .action(async (name: string, o: { copyObjects: string }) => {
      if (o.copyObjects !== 'on' && o.copyObjects !== 'off')
        throw new CliExit(EXIT.USAGE, '--copy-objects takes on or off');
      print(await (await online()).backups.updateTarget(name, { copyObjects: o.copyObjects === 'on' }));
    });
  target.command('list').action(async () => print(await (await online()).backups.targets()));
  target
    .command('remove <name>')
    .action(async (name: string) => print(await (await online()).backups.removeTarget(name)));

  backup
    .command('create')
    .description('Take a backup now')
    .option('--target <name>', 'backup target (default: the first)')
    .action(async (o: { target?: string }) => {
      say('online', 'backup');
      print(await (await online()).backups.create(o.target));
    });
  backup
    .command('list')
    .description('Backups, their verification and why rotation keeps them')
    .action(async () => {
      print(await (await online()).backups.list());
    });
  backup.command('show <id>').action(async (id: string) => print(await (await online()).backups.show(id)));
  backup
    .command('verify <id>')
    .description(
      "Restore drill: restore into a scratch database and check counts, checksums, audit chain, keyring; then read back every dataset object copied to the backup's target and check its SHA-256",
    )
    .action(async (id: string) => print(await (await online()).backups.verify(id)));
  backup
    .command('prune')
    .description('Delete the backups rotation no longer keeps')
    .action(async () => {
      print(await (await online()).backups.prune());
    });

  backup
    .command('recovery-key')
    .description('The recovery key (shown once)')
    .command('export')
    .option('--out <file>', 'file to create, mode 0600 (refused if it exists)')
    .option('--shares <n>', 'split it into n Shamir shares instead (files share-1.txt … in --out-dir)', Number)
    .option('--threshold <k>', 'how many shares restore a backup (with --shares)', Number)
    .option('--out-dir <dir>', 'a new directory for the share files, mode 0700 (with --shares)')
    .action(async (o: { out?: string; shares?: number; threshold?: number; outDir?: string }) => {
      if (o.shares !== undefined) {
        if (!o.threshold || !o.outDir || o.out)
          throw new CliExit(EXIT.USAGE, 'with --shares give --threshold and --out-dir (and no --out)');
        try {
          await mkdir(o.outDir, { mode: 0o700 });
        } catch {
          throw new CliExit(EXIT.USAGE, `${o.outDir} exists or cannot be created; give a new directory`);
        }
        const r = await (await online()).backups.exportRecoveryShares({ shares: o.shares, threshold: o.threshold });
        for (const [i, share] of r.shares.entries())
          await writeFile(path.join(o.outDir, `share-${i + 1}.txt`), `${share}\n`, { mode: 0o600, flag: 'wx' });
        process.stdout.write(
          `${r.shares.length} recovery key shares written to ${o.outDir} (0600); any ${r.threshold} restore a backup. Give each to a different person, away from the server.\n`,
        );
        return;
      }
      if (!o.out) throw new CliExit(EXIT.USAGE, 'give --out <file> (or --shares, --threshold and --out-dir)');
      const out = o.out;
      const r = await (await online()).backups.exportRecoveryKey();
      try {
        await writeFile(out, `${r.recoveryKey}\n`, { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new CliExit(EXIT.USAGE, `${out} exists; the key was exported and is not shown again`);
        throw err;
      }
      process.stdout.write(`recovery key written to ${out} (0600); keep it apart from the server\n`);
    });

  backup
    .command('restore-objects')
    .description(
      "Put dataset objects back from a target's copies: those missing from their drives (with --deep, also those whose ciphertext changed), each checked against its recorded SHA-256. Run it against the restored, running installation after `backup restore`.",
    )
    .requiredOption('--target <name>', 'the backup target holding the copies')
    .option('--workspace <ws>', "only this workspace's datasets")
    .option('--deep', 'hash every present object too (reads all of them), not only its size')
    .action(async (o: { target: string; workspace?: string; deep?: boolean }) => {
      say('online', `restore dataset objects from ${o.target}`);
      print(
        await (
          await online()
        ).backups.restoreObjects(o.target, {
          ...(o.workspace ? { workspace: o.workspace } : {}),
          deep: o.deep === true,
        }),
      );
    });

  backup
    .command('restore')
    .description('Restore a backup folder into a NEW data directory (or an empty PostgreSQL database)')
    .requiredOption(
      '--from <location>',
      "the backup's folder: a local path (…/<prefix>/<backup id>), or s3://, azure:// or gs://<bucket>/<prefix>/<backup id> (credentials from the environment: docs/security.md §18)",
    )
    .requiredOption('--home <dir>', 'the new data directory')
    .option('--endpoint <url>', 'the S3-compatible, Azure blob or GCS API endpoint of a cloud --from')
    .option('--database-url <url>', 'an empty PostgreSQL database instead of PGlite')
    .option('--root-key-file <file>', 'the root key file of the installation that took the backup')
    .option('--recovery-key-file <file>', 'the exported recovery key')
    .option('--recovery-share-file <files...>', 'files of the recovery key shares (at least the threshold)')
    .option('--installation <id>', "the installation this restore is for (default: the target's owner marker)")
    .option(
      '--allow-foreign-installation',
      'restore a backup that another installation made (recorded in the audit trail)',
    )
    .action(
      async (o: {
        from: string;
        home: string;
        endpoint?: string;
        databaseUrl?: string;
        rootKeyFile?: string;
        recoveryKeyFile?: string;
        recoveryShareFile?: string[];
        installation?: string;
        allowForeignInstallation?: boolean;
      }) => {
        if ([o.rootKeyFile, o.recoveryKeyFile, o.recoveryShareFile].filter((x) => x !== undefined).length !== 1)
          throw new CliExit(
            EXIT.USAGE,
            'give exactly one of --root-key-file, --recovery-key-file and --recovery-share-file',
          );
        const key = o.rootKeyFile
          ? { rootKeyFile: o.rootKeyFile }
          : o.recoveryShareFile
            ? {
                recoveryShares: await Promise.all(
                  o.recoveryShareFile.map(async (f) => (await readFile(f, 'utf8')).trim()),
                ),
              }
            : { recoveryKey: (await readFile(o.recoveryKeyFile!, 'utf8')).trim() };
        const at = await openBackupLocation(o.from, { endpoint: o.endpoint });
        say('offline', `restore ${path.basename(at.folder)} into ${o.home}`);
        try {
          const r = await restoreInstallation({
            source: { driver: at.driver, folder: at.folder },
            ledger: { driver: at.driver, folder: at.ledgerFolder },
            home: path.resolve(o.home),
            ...(o.databaseUrl ? { databaseUrl: o.databaseUrl } : {}),
            key,
            expectInstallationId: o.installation,
            allowForeignInstallation: o.allowForeignInstallation === true,
          });
          print(r);
        } finally {
          await at.driver.close();
        }
      },
    );
}
