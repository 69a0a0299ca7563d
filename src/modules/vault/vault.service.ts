/**
 * The vault's use cases. Guarantees:
 * - A value exists in the database only barrier-sealed, bound to `secret_versions.value_sealed`
 *   and the row id `<ws>/<path>#<version>`: moved to another secret or version it fails to open
 *   (DECRYPTION_FAILED), so a database writer cannot swap values between secrets unnoticed.
 * - Versions as in Vault KV v2: every write is version n+1 of the secret, under the secret row's
 *   lock (`FOR UPDATE`), so with `cas` exactly one of concurrent writers expecting version n wins;
 *   the others get 409. Versions beyond `max_versions` are removed (row and ciphertext).
 * - Nothing here returns a value except `reveal` and `readSecretValue`; authorization and the
 *   audit event are the caller's (the routes run these inside the transaction that records it).
 */
import type { Kysely, Transaction } from 'kysely';
import type { Actor } from '../../core/actor.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import {
  metadataColumns,
  metadataOf,
  stateOf,
  summaryOf,
  type SecretMetadata,
  type SecretSummary,
  type VersionInfo,
  versionInfo,
} from './vault.metadata.ts';
import { sealIdOf } from './vault.paths.ts';
import * as store from './vault.store.ts';
import { prepareValue, type SecretValue } from './vault.values.ts';
import type { MetadataInput, SecretType } from '../../contracts/vault.ts';

export interface VaultDeps {
  db: Kysely<Database>;
  barrier: Pick<Barrier, 'seal' | 'open'>;
  now?: () => Date;
}

export interface WriteInput {
  type: SecretType;
  value: SecretValue;
  /** Expected current version (0 = the secret must not exist yet). */
  cas?: number | undefined;
  metadata?: MetadataInput | undefined;
}

export interface WriteResult {
  version: number;
  created: boolean;
  pruned: number[];
}

export interface RevealedValue {
  path: string;
  version: number;
  type: SecretType;
  value: SecretValue;
  createdAt: string;
}

/** A version located for a reveal: the resource to authorize, and either the sealed value or why not. */
export interface SealedVersion {
  resource: { type: 'secret'; id: string; workspace: string; tags: string[] };
  version: number;
  type?: SecretType;
  sealed?: Buffer;
  createdAt?: string;
  problem?: AppError;
}

export interface DueItem {
  path: string;
  type: string;
  owner: string | null;
  tags: string[];
  currentVersion: number;
  reasons: (
    'expired' | 'expiring' | 'rotation-overdue' | 'rotation-due' | 'certificate-expired' | 'certificate-expiring'
  )[];
  expiresAt: string | null;
  rotationDueAt: string | null;
  certificateNotAfter: string | null;
}

/** The sealing context of one version (the barrier's table, column and row id). */
const sealCtx = (workspaceId: string, path: string, version: number) => ({
  table: 'secret_versions',
  column: 'value_sealed',
  rowId: sealIdOf(workspaceId, path, version),
});

const notFound = () => new AppError('NOT_FOUND', { detail: 'No such secret in this workspace.' });
const keyDestroyed = (workspaceId: string) =>
  new AppError('KEY_DESTROYED', {
    detail: `The key of workspace ${workspaceId} was destroyed; its secrets were destroyed with it and cannot be read or written.`,
  });
const conflict = (detail: string, meta?: Record<string, unknown>) =>
  new AppError('CONFLICT', { detail, ...(meta ? { meta } : {}) });

export function createVaultService(deps: VaultDeps) {
  const { db, barrier } = deps;
  const now = deps.now ?? (() => new Date());

  function sealValue(workspaceId: string, path: string, version: number, json: Buffer): Buffer {
    try {
      return barrier.seal(json, sealCtx(workspaceId, path, version));
    } finally {
      json.fill(0);
    }
  }

  function openValue(workspaceId: string, path: string, version: number, sealed: Buffer): Buffer {
    return barrier.open(Buffer.from(sealed), {
      table: 'secret_versions',
      column: 'value_sealed',
      rowId: sealIdOf(workspaceId, path, version),
    });
  }

  /** Lock the secret (creating it when absent and `type` is given); checks cas. */
  async function lockForWrite(
    trx: Transaction<Database>,
    actor: Actor,
    workspaceId: string,
    path: string,
    type: SecretType | undefined,
    cas: number | undefined,
  ) {
    if (await store.workspaceKeyDestroyedAt(trx, workspaceId)) throw keyDestroyed(workspaceId);
    let created = false;
    let row = await store.lockSecret(trx, workspaceId, path);
    if (!row && type) {
      row = await store.insertSecretIfAbsent(trx, {
        workspace_id: workspaceId,
        path,
        type,
        created_by: actor.id,
        updated_by: actor.id,
      });
      created = row !== undefined;
      row ??= await store.lockSecret(trx, workspaceId, path);
    }
    if (!row)
      throw cas !== undefined && cas > 0
        ? conflict(`check-and-set failed: the secret does not exist (expected version ${cas}).`, { currentVersion: 0 })
        : notFound();
    if (cas !== undefined && cas !== row.current_version) {
      throw conflict(`check-and-set failed: the current version is ${row.current_version}, not ${cas}.`, {
        currentVersion: row.current_version,
      });
    }
    if (cas === undefined && row.cas_required && !created)
      throw conflict('This secret requires check-and-set: send cas = the current version.', {
        currentVersion: row.current_version,
      });
    return { row, created };
  }

  /** Append version n+1 with `json` sealed for it, move `current_version`, prune. */
  async function appendVersion(
    trx: Transaction<Database>,
    actor: Actor,
    row: store.SecretRow,
    json: Buffer,
    cert: { notAfter: Date; subject: string; fingerprint256: string } | undefined,
    patch: MetadataInput | undefined,
  ) {
    const workspaceId = row.workspace_id;
    const version = row.current_version + 1;
    await store.insertVersion(trx, {
      workspace_id: workspaceId,
      path: row.path,
      version,
      value_sealed: sealValue(workspaceId, row.path, version, json),
      cert_not_after: cert?.notAfter ?? null,
      cert_subject: cert?.subject ?? null,
      cert_fingerprint256: cert?.fingerprint256 ?? null,
      created_by: actor.id,
      created_at: now(),
    });
    const cols = metadataColumns(patch);
    await store.updateSecret(trx, workspaceId, row.path, {
      ...cols,
      current_version: version,
      updated_by: actor.id,
      updated_at: now(),
    });
    const pruned = await store.pruneVersions(
      trx,
      workspaceId,
      row.path,
      version,
      cols.max_versions ?? row.max_versions,
    );
    return { version, pruned };
  }

  const service = {
    /** Write a new version (creating the secret at version 1). */
    async write(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      path: string,
      input: WriteInput,
    ): Promise<WriteResult> {
      const prepared = prepareValue(input.type, input.value);
      try {
        const { row, created } = await lockForWrite(trx, actor, workspaceId, path, input.type, input.cas);
        if (row.type !== input.type)
          throw conflict(`This secret is of type ${row.type}; write a ${row.type} value or use another path.`);
        const r = await appendVersion(trx, actor, row, prepared.json, prepared.certificate, input.metadata);
        return { ...r, created };
      } finally {
        prepared.json.fill(0);
      }
    },

    /** A new version holding the value of `from` (which must be live). */
    async rollback(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      path: string,
      from: number,
      cas?: number,
    ): Promise<WriteResult> {
      const { row } = await lockForWrite(trx, actor, workspaceId, path, undefined, cas);
      const source = await store.findVersion(trx, workspaceId, path, from);
      if (!source)
        throw new AppError('NOT_FOUND', { detail: `Version ${from} does not exist (or was removed by max_versions).` });
      if (stateOf(source) !== 'live')
        throw conflict(`Version ${from} is ${stateOf(source)}; only a live version can be rolled back to.`);
      const json = openValue(workspaceId, path, from, source.value_sealed!);
      const cert = source.cert_not_after
        ? {
            notAfter: source.cert_not_after,
            subject: source.cert_subject ?? '',
            fingerprint256: source.cert_fingerprint256 ?? '',
          }
        : undefined;
      const r = await appendVersion(trx, actor, row, json, cert, undefined);
      return { ...r, created: false };
    },

    async updateMetadata(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      path: string,
      patch: MetadataInput,
    ): Promise<{ pruned: number[] }> {
      const row = await store.lockSecret(trx, workspaceId, path);
      if (!row) throw notFound();
      const cols = metadataColumns(patch);
      await store.updateSecret(trx, workspaceId, path, { ...cols, updated_by: actor.id, updated_at: now() });
      const pruned =
        cols.max_versions !== undefined
          ? await store.pruneVersions(trx, workspaceId, path, row.current_version, cols.max_versions)
          : [];
      return { pruned };
    },

    /** Soft delete (default: the current version). Returns the versions that changed. */
    async deleteVersions(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      path: string,
      versions?: number[],
    ): Promise<number[]> {
      const row = await store.lockSecret(trx, workspaceId, path);
      if (!row) throw notFound();
      const which = versions ?? [row.current_version];
      if (which.length === 0) return [];
      return store.setVersions(trx, workspaceId, path, which, 'live', { deleted_at: now(), deleted_by: actor.id });
    },

    async undeleteVersions(
      trx: Transaction<Database>,
      _actor: Actor,
      workspaceId: string,
      path: string,
      versions: number[],
    ): Promise<number[]> {
      const row = await store.lockSecret(trx, workspaceId, path);
      if (!row) throw notFound();
      return store.setVersions(trx, workspaceId, path, versions, 'deleted', { deleted_at: null, deleted_by: null });
    },

    /** Irreversible: the ciphertexts of `versions` are removed; the rows remain as history. */
    async destroyVersions(
      trx: Transaction<Database>,
      actor: Actor,
      workspaceId: string,
      path: string,
      versions: number[],
    ): Promise<number[]> {
      const row = await store.lockSecret(trx, workspaceId, path);
      if (!row) throw notFound();
      return store.setVersions(trx, workspaceId, path, versions, 'present', {
        value_sealed: null,
        destroyed_at: now(),
        destroyed_by: actor.id,
      });
    },

    /** Irreversible: the secret, its metadata and every version are removed. */
    async destroySecret(trx: Transaction<Database>, workspaceId: string, path: string): Promise<number> {
      const row = await store.lockSecret(trx, workspaceId, path);
      if (!row) throw notFound();
      await store.deleteSecret(trx, workspaceId, path);
      return row.current_version;
    },

    async metadata(exec: store.Db, workspaceId: string, path: string): Promise<SecretMetadata> {
      const row = await store.findSecret(exec, workspaceId, path);
      if (!row) throw notFound();
      return metadataOf(row, await store.versionInfos(exec, workspaceId, path));
    },

    /** One version's facts (never its value); default the current version. */
    async versionMetadata(
      exec: store.Db,
      workspaceId: string,
      path: string,
      version?: number,
    ): Promise<{ path: string; type: SecretType; currentVersion: number } & VersionInfo> {
      const row = await store.findSecret(exec, workspaceId, path);
      if (!row) throw notFound();
      const v = await store.findVersion(exec, workspaceId, path, version ?? row.current_version);
      if (!v) throw new AppError('NOT_FOUND', { detail: `Version ${version ?? row.current_version} does not exist.` });
      return { path, type: row.type, currentVersion: row.current_version, ...versionInfo(v) };
    },

    async list(
      exec: store.Db,
      workspaceId: string,
      prefix: string,
      after: string | undefined,
      limit: number,
    ): Promise<{ secrets: SecretSummary[]; next: string | null }> {
      const rows = await store.listSecrets(exec, workspaceId, prefix, after, limit + 1);
      const page = rows.slice(0, limit).map(summaryOf);
      return { secrets: page, next: rows.length > limit ? page[page.length - 1]!.path : null };
    },

    /** The Cedar resource of a secret (its tags drive per-tag rules), or undefined if absent. */
    async resourceOf(
      exec: store.Db,
      workspaceId: string,
      path: string,
    ): Promise<{ type: 'secret'; id: string; workspace: string; tags: string[] } | undefined> {
      const row = await store.tagsOf(exec, workspaceId, path);
      return row ? { type: 'secret', id: path, workspace: workspaceId, tags: row.tags } : undefined;
    },

    /**
     * Find one version (default: the current one) for a reveal, in one statement, without opening
     * it: the caller decides with `resource` (its tags) first, then calls `open`. Throws NOT_FOUND
     * for a missing secret or version, or one that is deleted or destroyed.
     */
    async findForReveal(exec: store.Db, workspaceId: string, path: string, version?: number): Promise<SealedVersion> {
      const r = await store.secretWithVersion(exec, workspaceId, path, version);
      if (!r) throw notFound();
      const n = version ?? r.current_version;
      const resource = { type: 'secret' as const, id: path, workspace: workspaceId, tags: r.tags };
      if (r.key_destroyed_at !== null) return { resource, version: n, problem: keyDestroyed(workspaceId) };
      if (r.version === null)
        return {
          resource,
          version: n,
          problem: new AppError('NOT_FOUND', {
            detail: `Version ${n} does not exist (or was removed by max_versions).`,
            meta: { version: n },
          }),
        };
      const state = stateOf(r);
      if (state !== 'live')
        return {
          resource,
          version: n,
          problem: new AppError('NOT_FOUND', { detail: `Version ${n} is ${state}.`, meta: { version: n, state } }),
        };
      return {
        resource,
        version: n,
        type: r.type,
        sealed: r.value_sealed!,
        createdAt: new Date(r.created_at!).toISOString(),
      };
    },

    /** Open what `findForReveal` found. The value goes only where the caller sends it. */
    open(workspaceId: string, path: string, found: SealedVersion): RevealedValue {
      if (found.problem) throw found.problem;
      const plain = openValue(workspaceId, path, found.version, found.sealed!);
      try {
        return {
          path,
          version: found.version,
          type: found.type!,
          value: JSON.parse(plain.toString('utf8')) as SecretValue,
          createdAt: found.createdAt!,
        };
      } finally {
        plain.fill(0);
      }
    },

    /** Find and open in one call (no authorization: for callers that already decided). */
    async reveal(exec: store.Db, workspaceId: string, path: string, version?: number): Promise<RevealedValue> {
      return service.open(workspaceId, path, await service.findForReveal(exec, workspaceId, path, version));
    },

    /** Expired or overdue secrets (and those due within `withinSeconds`). */
    async due(exec: store.Db, workspaceId: string, withinSeconds: number): Promise<DueItem[]> {
      const t = now().getTime();
      const horizon = t + withinSeconds * 1000;
      const out: DueItem[] = [];
      for (const r of await store.dueCandidates(exec, workspaceId)) {
        const reasons: DueItem['reasons'] = [];
        const exp = r.expires_at ? new Date(r.expires_at).getTime() : undefined;
        if (exp !== undefined) {
          if (exp <= t) reasons.push('expired');
          else if (exp <= horizon) reasons.push('expiring');
        }
        const rotationDue =
          r.rotate_every_seconds !== null && r.version_created_at
            ? new Date(r.version_created_at).getTime() + r.rotate_every_seconds * 1000
            : undefined;
        if (rotationDue !== undefined) {
          if (rotationDue <= t) reasons.push('rotation-overdue');
          else if (rotationDue <= horizon) reasons.push('rotation-due');
        }
        const certEnd = r.cert_not_after ? new Date(r.cert_not_after).getTime() : undefined;
        if (certEnd !== undefined) {
          if (certEnd <= t) reasons.push('certificate-expired');
          else if (certEnd <= horizon) reasons.push('certificate-expiring');
        }
        if (reasons.length === 0) continue;
        out.push({
          path: r.path,
          type: r.type,
          owner: r.owner,
          tags: r.tags,
          currentVersion: r.current_version,
          reasons,
          expiresAt: exp === undefined ? null : new Date(exp).toISOString(),
          rotationDueAt: rotationDue === undefined ? null : new Date(rotationDue).toISOString(),
          certificateNotAfter: certEnd === undefined ? null : new Date(certEnd).toISOString(),
        });
      }
      return out;
    },

    /**
     * Internal API for other modules (drives, connectors): the value of a secret, for use inside
     * this process only. Never send it to a client. The caller records its own audit event.
     */
    readSecretValue(workspaceId: string, path: string, version?: number): Promise<RevealedValue> {
      return service.reveal(db, workspaceId, path, version);
    },
  };
  return service;
}

export type VaultService = ReturnType<typeof createVaultService>;
