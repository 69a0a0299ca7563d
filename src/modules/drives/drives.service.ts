/**
 * Drives (C7): mount a customer's store, test it, keep its health, hand a driver to the modules
 * that store bytes (datasets).
 *
 * Guarantees:
 * - No credential is stored in `drives` or returned by anything here: inline credentials become
 *   the vault secret `drives/<name>/credentials` in the same transaction as the drive row; a
 *   drive may instead name an existing cloud-credential secret. `DriveView` has no field that
 *   could hold one.
 * - A drive is added only after its diagnosis passes (the caller gets the report either way). The
 *   diagnosis runs outside any transaction (`prepareAdd`), the rows are written in one
 *   (`commitAdd`), so a slow store never holds a database transaction open.
 * - Every workspace has a default local drive (`default`), created on start and on first use.
 * - A drive that holds datasets cannot be removed (the datasets module reports usage).
 */
import type { Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import type { BlobDriver } from '../../adapters/blob/driver.ts';
import type { EgressGuard } from '../../adapters/net/egress-guard.ts';
import type { Database } from '../../db/schema.ts';
import type { VaultService } from '../vault/index.ts';
import {
  CONFIG_SCHEMAS,
  PROVIDER_OF,
  credentialPathFor,
  type CloudCredential,
  type DriveInput,
  type DriveKindName,
} from '../../contracts/drives.ts';
import { diagnose, type Diagnosis } from './drives.diagnose.ts';
import { openDriver } from './drives.open.ts';
import { checkOf, createDriveRotation, type PreparedDrive } from './drives.rotation.ts';
import * as store from './drives.store.ts';

export interface DrivesDeps {
  db: store.Db;
  vault: Pick<VaultService, 'write' | 'readSecretValue' | 'destroySecret' | 'resourceOf'>;
  guard: EgressGuard;
  localRoot: string;
  /** The console's public origin (STRONGROOM_PUBLIC_URL), which bucket CORS rules would have to allow. */
  consoleOrigin?: string | undefined;
  /** Browsers upload straight to buckets (not yet offered): only then is a missing CORS rule a warning. */
  directUploads?: boolean;
  /** How many dataset versions live on a drive; runs on `db` (the caller's transaction). */
  usage?: (db: store.Db, ws: string, name: string) => Promise<number>;
  /** Names of the datasets with versions on a drive; runs on `db` (the caller's transaction). */
  holders?: (db: store.Db, ws: string, name: string) => Promise<string[]>;
}

export type { PreparedDrive } from './drives.rotation.ts';

export interface DriveView {
  name: string;
  kind: DriveKindName;
  description: string;
  config: Record<string, unknown>;
  /** Vault path of the credentials (never their value). */
  credentialSecret: string | null;
  isDefault: boolean;
  status: 'unknown' | 'healthy' | 'failing';
  statusCode: string | null;
  statusCheckedAt: string | null;
  lastTest: Diagnosis | null;
  createdBy: string;
  createdAt: string;
}

function view(r: store.DriveRow): DriveView {
  return {
    name: r.name,
    kind: r.kind,
    description: r.description,
    config: r.config,
    credentialSecret: r.credential_path,
    isDefault: r.is_default,
    status: r.status,
    statusCode: r.status_code,
    statusCheckedAt: r.status_checked_at ? r.status_checked_at.toISOString() : null,
    lastTest: (r.last_test as Diagnosis | null) ?? null,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
  };
}

function endpointOf(
  kind: DriveKindName,
  config: Record<string, unknown>,
  credential: CloudCredential | undefined,
): string | undefined {
  if (typeof config.endpoint === 'string') return config.endpoint;
  if (kind === 's3') return `https://s3.${String(config.region ?? 'us-east-1')}.amazonaws.com`;
  if (kind === 'azure' && credential?.provider === 'azure') {
    if (credential.kind === 'connection-string')
      return (
        /(?:^|;)BlobEndpoint=([^;]+)/i.exec(credential.connectionString)?.[1] ??
        `https://${/(?:^|;)AccountName=([^;]+)/i.exec(credential.connectionString)?.[1] ?? 'account'}.blob.core.windows.net`
      );
    return `https://${credential.accountName}.blob.core.windows.net`;
  }
  if (kind === 'gcs') return 'https://storage.googleapis.com';
  return undefined;
}

export function createDrivesService(deps: DrivesDeps) {
  const ctx = { guard: deps.guard, localRoot: deps.localRoot };

  async function credentialFor(
    workspaceId: string,
    kind: DriveKindName,
    input: { credentials?: CloudCredential | undefined; credentialSecret?: string | undefined } | null,
    storedPath: string | null,
  ): Promise<CloudCredential | undefined> {
    if (kind === 'local') return undefined;
    if (input?.credentials && input.credentialSecret)
      throw new AppError('VALIDATION_FAILED', { detail: 'Give either credentials or credentialSecret, not both.' });
    let credential: CloudCredential | undefined = input?.credentials;
    const path = input?.credentialSecret ?? (credential ? undefined : storedPath);
    if (!credential && path) {
      const revealed = await deps.vault.readSecretValue(workspaceId, path).catch((err: unknown) => {
        if (err instanceof AppError && err.code === 'NOT_FOUND')
          throw new AppError('VALIDATION_FAILED', {
            detail: 'The credential secret does not exist in this workspace (or has no live version).',
          });
        throw err;
      });
      if (revealed.type !== 'cloud-credential')
        throw new AppError('VALIDATION_FAILED', { detail: 'The credential secret must be of type cloud-credential.' });
      credential = revealed.value as CloudCredential;
    }
    if (!credential)
      throw new AppError('VALIDATION_FAILED', {
        detail: `A ${kind} drive needs credentials: give credentials or credentialSecret.`,
      });
    if (credential.provider !== PROVIDER_OF[kind])
      throw new AppError('VALIDATION_FAILED', {
        detail: `The credentials are for ${credential.provider}, the drive is ${kind}.`,
      });
    return credential;
  }

  async function run(
    workspaceId: string,
    name: string,
    kind: DriveKindName,
    config: Record<string, unknown>,
    credential: CloudCredential | undefined,
  ): Promise<Diagnosis> {
    const endpoint = endpointOf(kind, config, credential);
    return diagnose({
      kind,
      ...(endpoint ? { endpoint } : {}),
      consoleOrigin: deps.consoleOrigin,
      directUploads: deps.directUploads === true,
      resolve: (url) => deps.guard.checkUrl(url),
      open: () => openDriver(ctx, workspaceId, name, kind, config, credential),
    });
  }

  const service = {
    /** Creates the default local drive of every workspace (or only `only`) that lacks one. */
    async ensureDefaults(only?: string): Promise<void> {
      for (const workspaceId of await store.workspacesWithoutDefault(deps.db, only)) {
        const name = (await store.find(deps.db, workspaceId, 'default'))
          ? `default-${workspaceId
              .toLowerCase()
              .replace(/[^a-z0-9-]/g, '-')
              .slice(0, 40)}`
          : 'default';
        await store.insert(deps.db, {
          workspace_id: workspaceId,
          name,
          kind: 'local',
          description: 'Local drive created by Strongroom; datasets go here unless you choose another drive.',
          config: { directory: 'default' },
          credential_path: null,
          created_by: 'system',
          is_default: true,
        });
      }
    },

    async list(workspaceId: string): Promise<DriveView[]> {
      await service.ensureDefaults(workspaceId);
      return (await store.list(deps.db, workspaceId)).map(view);
    },

    async get(workspaceId: string, name: string): Promise<DriveView> {
      const found = await service.find(workspaceId, name);
      if (!found) throw new AppError('NOT_FOUND', { detail: 'No such drive in this workspace.' });
      return found;
    },

    /** The drive, or undefined when the workspace has none of this name. */
    async find(workspaceId: string, name: string): Promise<DriveView | undefined> {
      const row = await store.find(deps.db, workspaceId, name);
      return row ? view(row) : undefined;
    },

    /** Diagnosis of a definition that is not saved. Nothing is stored. */
    async test(workspaceId: string, input: DriveInput): Promise<Diagnosis> {
      const credential = await credentialFor(workspaceId, input.kind, 'credentials' in input ? input : null, null);
      return run(workspaceId, input.name, input.kind, input.config as Record<string, unknown>, credential);
    },

    /** Re-test a saved drive and record its status. */
    async retest(workspaceId: string, name: string): Promise<Diagnosis> {
      const row = await store.find(deps.db, workspaceId, name);
      if (!row) throw new AppError('NOT_FOUND', { detail: 'No such drive in this workspace.' });
      let report: Diagnosis;
      try {
        const credential = await credentialFor(workspaceId, row.kind, null, row.credential_path);
        report = await run(workspaceId, name, row.kind, row.config, credential);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        report = {
          ok: false,
          code: 'VALIDATION_FAILED',
          steps: [{ id: 'endpoint', title: 'Drive settings', status: 'fail', reason: err.detail ?? err.message }],
          checkedAt: new Date().toISOString(),
        };
      }
      await store.setStatus(deps.db, workspaceId, name, report.ok ? 'healthy' : 'failing', report.code ?? null, report);
      await store.addCheck(deps.db, workspaceId, name, checkOf(report));
      return report;
    },

    /**
     * Step 1 of adding a drive, outside any transaction (it dials the store): resolve the
     * credentials and run the diagnosis. Throws the diagnosis code as a problem (report in
     * `meta.diagnosis`) when the test fails.
     */
    async prepareAdd(workspaceId: string, input: DriveInput): Promise<PreparedDrive> {
      if (await store.find(deps.db, workspaceId, input.name))
        throw new AppError('CONFLICT', { detail: 'A drive with this name exists in this workspace.' });
      const inline = 'credentials' in input ? input.credentials : undefined;
      const named = 'credentialSecret' in input ? input.credentialSecret : undefined;
      const credential = await credentialFor(
        workspaceId,
        input.kind,
        { credentials: inline, credentialSecret: named },
        null,
      );
      const config = CONFIG_SCHEMAS[input.kind].parse(input.config) as Record<string, unknown>;
      const diagnosis = await run(workspaceId, input.name, input.kind, config, credential);
      if (!diagnosis.ok) {
        const code = diagnosis.code ?? 'DRIVE_ERROR';
        const failed = diagnosis.steps.find((s) => s.status === 'fail');
        throw new AppError(code, {
          detail: `The drive test failed at "${failed?.title ?? 'a step'}": ${failed?.reason ?? 'see the diagnosis'}.`,
          meta: { diagnosis },
        });
      }
      return { input, config, diagnosis, inline, named };
    },

    /** Step 2, in the caller's transaction (with its audit event): store credentials and the drive. */
    async commitAdd(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      p: PreparedDrive,
    ): Promise<{ drive: DriveView; diagnosis: Diagnosis }> {
      const { input, config, diagnosis } = p;
      let credentialPath: string | null = p.named ?? null;
      if (p.inline) {
        credentialPath = credentialPathFor(input.name);
        await deps.vault.write(trx, actor, workspaceId, credentialPath, {
          type: 'cloud-credential',
          value: p.inline as Record<string, unknown>,
          metadata: { description: `Credentials of drive ${input.name}`, tags: ['drive-credential'] },
        });
      }
      const inserted = await store.insert(trx, {
        workspace_id: workspaceId,
        name: input.name,
        kind: input.kind,
        description: input.description ?? '',
        config,
        credential_path: credentialPath,
        created_by: actor.id,
        last_test: diagnosis,
        status: 'healthy',
        status_code: null,
      });
      if (!inserted) throw new AppError('CONFLICT', { detail: 'A drive with this name exists in this workspace.' });
      await store.addCheck(trx, workspaceId, input.name, checkOf(diagnosis));
      const row = await store.find(trx, workspaceId, input.name);
      return { drive: view(row!), diagnosis };
    },

    /** Removes a drive (not the default, not one holding datasets) and its inline credentials. */
    async remove(
      trx: Transaction<Database>,
      workspaceId: string,
      name: string,
    ): Promise<{ credentialsDestroyed: boolean }> {
      const row = await store.find(trx, workspaceId, name);
      if (!row) throw new AppError('NOT_FOUND', { detail: 'No such drive in this workspace.' });
      if (row.is_default) throw new AppError('CONFLICT', { detail: 'The default drive cannot be removed.' });
      const used = (await deps.usage?.(trx, workspaceId, name)) ?? 0;
      if (used > 0) {
        const datasets = (await deps.holders?.(trx, workspaceId, name)) ?? [];
        const named =
          datasets.length > 0 ? ` of ${datasets.length === 20 ? 'datasets including' : ''} ${datasets.join(', ')}` : '';
        throw new AppError('CONFLICT', {
          detail: `The drive holds ${used} dataset version(s)${named}; delete those versions (or the datasets) first.`,
          meta: { datasetVersions: used, datasets },
        });
      }
      await store.remove(trx, workspaceId, name);
      if (
        row.credential_path === credentialPathFor(name) &&
        (await deps.vault.resourceOf(trx, workspaceId, row.credential_path))
      ) {
        await deps.vault.destroySecret(trx, workspaceId, row.credential_path);
        return { credentialsDestroyed: true };
      }
      return { credentialsDestroyed: false };
    },

    /**
     * Makes a drive the workspace's default (where new datasets go when no drive is named), in
     * the caller's transaction; returns the previous default. VALIDATION_FAILED if there is none
     * of this name.
     */
    async setDefault(
      trx: Transaction<Database>,
      workspaceId: string,
      name: string,
    ): Promise<{ previous: string | null }> {
      const previous = (await store.list(trx, workspaceId)).find((d) => d.is_default)?.name ?? null;
      if (!(await store.setDefault(trx, workspaceId, name)))
        throw new AppError('VALIDATION_FAILED', { detail: `There is no drive "${name}" in this workspace.` });
      return { previous };
    },

    ...createDriveRotation({ db: deps.db, vault: deps.vault, credentialFor, run, view }),

    /** A driver for a saved drive (datasets use this). Close it when done. */
    async open(workspaceId: string, name: string): Promise<BlobDriver> {
      const row = await store.find(deps.db, workspaceId, name);
      if (!row) throw new AppError('NOT_FOUND', { detail: 'No such drive in this workspace.' });
      const credential = await credentialFor(workspaceId, row.kind, null, row.credential_path);
      return openDriver(ctx, workspaceId, name, row.kind, row.config, credential);
    },

    /** Probes every drive and records its status (the periodic health check). */
    /**
     * Re-tests every drive (of one workspace when given); `onDrive` hears each result (name and
     * ok only — a task log line).
     */
    async refreshHealth(
      workspaceId?: string,
      onDrive?: (d: { drive: string; ok: boolean }) => void,
    ): Promise<{ checked: number; failing: number }> {
      let failing = 0;
      const rows = (await store.listAll(deps.db)).filter((r) => !workspaceId || r.workspace_id === workspaceId);
      for (const row of rows) {
        const report = await service.retest(row.workspace_id, row.name);
        if (!report.ok) failing += 1;
        onDrive?.({ drive: row.name, ok: report.ok });
      }
      return { checked: rows.length, failing };
    },

    /** Workspaces that have at least one drive mounted. */
    async workspacesWithDrives(): Promise<string[]> {
      return [...new Set((await store.listAll(deps.db)).map((r) => r.workspace_id))].sort();
    },
  };
  return service;
}

export type DrivesService = ReturnType<typeof createDrivesService>;
