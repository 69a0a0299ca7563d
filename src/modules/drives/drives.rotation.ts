/**
 * A drive's health history and the rotation of its credentials (tested before they replace the
 * old ones). Part of the drives service: `createDrivesService` spreads these methods in.
 */
import type { Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { VaultService } from '../vault/index.ts';
import {
  credentialPathFor,
  type CloudCredential,
  type DriveInput,
  type DriveKindName,
} from '../../contracts/drives.ts';
import type { Diagnosis } from './drives.diagnose.ts';
import * as store from './drives.store.ts';

/** What the health history keeps of a diagnosis. */
export const checkOf = (d: Diagnosis) => ({
  ok: d.ok,
  code: d.code ?? null,
  failedStep: d.steps.find((s) => s.status === 'fail')?.id ?? null,
  latencyMs: d.latencyMs ?? null,
});

export interface DriveCheckView {
  checkedAt: string;
  ok: boolean;
  code: string | null;
  failedStep: string | null;
  latencyMs: number | null;
}

/** A definition whose diagnosis passed, ready to be stored (adding a drive, rotating its credentials). */
export interface PreparedDrive {
  input: DriveInput;
  config: Record<string, unknown>;
  diagnosis: Diagnosis;
  inline: CloudCredential | undefined;
  named: string | undefined;
}

export interface RotationDeps<V> {
  db: store.Db;
  vault: Pick<VaultService, 'write'>;
  credentialFor: (
    workspaceId: string,
    kind: DriveKindName,
    input: { credentials?: CloudCredential | undefined; credentialSecret?: string | undefined } | null,
    storedPath: string | null,
  ) => Promise<CloudCredential | undefined>;
  run: (
    ws: string,
    name: string,
    kind: DriveKindName,
    config: Record<string, unknown>,
    credential: CloudCredential | undefined,
  ) => Promise<Diagnosis>;
  view: (r: store.DriveRow) => V;
}

export function createDriveRotation<V>({ db, vault, credentialFor, run, view }: RotationDeps<V>) {
  return {
    /** The drive's recorded tests, newest first. */
    async history(workspaceId: string, name: string): Promise<DriveCheckView[]> {
      return (await store.checks(db, workspaceId, name)).map((c) => ({
        checkedAt: c.checked_at.toISOString(),
        ok: c.ok,
        code: c.code,
        failedStep: c.failed_step,
        latencyMs: c.latency_ms,
      }));
    },

    /**
     * Step 1 of rotating a cloud drive's credentials, outside any transaction: the new
     * credentials are tested against the drive's saved settings; a failing test throws its code
     * with the report (nothing changes).
     */
    async prepareRotation(workspaceId: string, name: string, credentials: CloudCredential): Promise<PreparedDrive> {
      const row = await store.find(db, workspaceId, name);
      if (!row) throw new AppError('NOT_FOUND', { detail: 'No such drive in this workspace.' });
      if (row.kind === 'local')
        throw new AppError('VALIDATION_FAILED', { detail: 'A local drive has no credentials to rotate.' });
      const credential = await credentialFor(workspaceId, row.kind, { credentials }, null);
      const diagnosis = await run(workspaceId, name, row.kind, row.config, credential);
      if (!diagnosis.ok) {
        const failed = diagnosis.steps.find((s) => s.status === 'fail');
        throw new AppError(diagnosis.code ?? 'DRIVE_ERROR', {
          detail: `The new credentials failed the drive test at "${failed?.title ?? 'a step'}": ${failed?.reason ?? 'see the diagnosis'}. The old credentials stay in use.`,
          meta: { diagnosis },
        });
      }
      const input = { name, kind: row.kind, config: row.config, credentials } as DriveInput;
      return { input, config: row.config, diagnosis, inline: credential, named: undefined };
    },

    /**
     * Step 2, in the caller's transaction (with its audit event): the credentials become a new
     * version of the drive's own secret `drives/<name>/credentials`, which the drive then uses.
     * A drive that named a shared secret stops using it (the shared secret is left as it is).
     */
    async commitRotation(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      p: PreparedDrive,
    ): Promise<{ drive: V; diagnosis: Diagnosis; previousSecret: string | null }> {
      const name = p.input.name;
      const row = await store.find(trx, workspaceId, name);
      if (!row) throw new AppError('NOT_FOUND', { detail: 'No such drive in this workspace.' });
      const path = credentialPathFor(name);
      await vault.write(trx, actor, workspaceId, path, {
        type: 'cloud-credential',
        value: p.inline as Record<string, unknown>,
        metadata: { description: `Credentials of drive ${name}`, tags: ['drive-credential'] },
      });
      await store.setCredentialPath(trx, workspaceId, name, path);
      await store.setStatus(trx, workspaceId, name, 'healthy', null, p.diagnosis);
      await store.addCheck(trx, workspaceId, name, checkOf(p.diagnosis));
      return {
        drive: view((await store.find(trx, workspaceId, name))!),
        diagnosis: p.diagnosis,
        previousSecret: row.credential_path,
      };
    },
  };
}
