/** Secret metadata: the input schema (limits), durations, and the shapes answers are built from. */
import { DURATION, UNIT, type MetadataInput, type SecretType } from '../../contracts/vault.ts';
import type { SecretRow, VersionInfoRow } from './vault.store.ts';

/** `90d`, `12h`, `30m` → seconds. */
export function durationSeconds(d: string): number {
  const m = DURATION.exec(d)!;
  return Number(m[1]) * UNIT[m[2] as keyof typeof UNIT];
}

/** Seconds → the largest exact unit (`7776000` → `90d`). */
export function durationText(seconds: number): string {
  if (seconds % UNIT.d === 0) return `${seconds / UNIT.d}d`;
  if (seconds % UNIT.h === 0) return `${seconds / UNIT.h}h`;
  return `${Math.round(seconds / UNIT.m)}m`;
}

/** Column values for a metadata patch (only the fields given). */
export function metadataColumns(m: MetadataInput | undefined) {
  const out: Partial<{
    description: string;
    tags: string;
    owner: string | null;
    custom: string;
    max_versions: number;
    cas_required: boolean;
    expires_at: Date | null;
    rotate_every_seconds: number | null;
  }> = {};
  if (!m) return out;
  if (m.description !== undefined) out.description = m.description;
  if (m.tags !== undefined) out.tags = JSON.stringify([...new Set(m.tags)].sort());
  if (m.owner !== undefined) out.owner = m.owner;
  if (m.custom !== undefined) out.custom = JSON.stringify(m.custom);
  if (m.maxVersions !== undefined) out.max_versions = m.maxVersions;
  if (m.casRequired !== undefined) out.cas_required = m.casRequired;
  if (m.expiresAt !== undefined) out.expires_at = m.expiresAt === null ? null : new Date(m.expiresAt);
  if (m.rotateEvery !== undefined)
    out.rotate_every_seconds = m.rotateEvery === null ? null : durationSeconds(m.rotateEvery);
  return out;
}

export type VersionState = 'live' | 'deleted' | 'destroyed';

export interface VersionInfo {
  version: number;
  state: VersionState;
  createdAt: string;
  createdBy: string;
  deletedAt: string | null;
  deletedBy: string | null;
  destroyedAt: string | null;
  destroyedBy: string | null;
  certificate?: { notAfter: string; subject: string; fingerprint256: string };
}

export interface SecretSummary {
  path: string;
  type: SecretType;
  description: string;
  tags: string[];
  owner: string | null;
  currentVersion: number;
  expiresAt: string | null;
  rotateEvery: string | null;
  updatedAt: string;
  updatedBy: string;
}

export interface SecretMetadata extends SecretSummary {
  custom: Record<string, string>;
  maxVersions: number;
  casRequired: boolean;
  createdAt: string;
  createdBy: string;
  versions: VersionInfo[];
}

const iso = (d: Date | null) => (d === null ? null : new Date(d).toISOString());

export function stateOf(v: Pick<VersionInfoRow, 'deleted_at' | 'destroyed_at'>): VersionState {
  return v.destroyed_at ? 'destroyed' : v.deleted_at ? 'deleted' : 'live';
}

export function versionInfo(v: VersionInfoRow): VersionInfo {
  return {
    version: v.version,
    state: stateOf(v),
    createdAt: iso(v.created_at)!,
    createdBy: v.created_by,
    deletedAt: iso(v.deleted_at),
    deletedBy: v.deleted_by,
    destroyedAt: iso(v.destroyed_at),
    destroyedBy: v.destroyed_by,
    ...(v.cert_not_after
      ? {
          certificate: {
            notAfter: iso(v.cert_not_after)!,
            subject: v.cert_subject ?? '',
            fingerprint256: v.cert_fingerprint256 ?? '',
          },
        }
      : {}),
  };
}

export function summaryOf(s: SecretRow): SecretSummary {
  return {
    path: s.path,
    type: s.type,
    description: s.description,
    tags: s.tags,
    owner: s.owner,
    currentVersion: s.current_version,
    expiresAt: iso(s.expires_at),
    rotateEvery: s.rotate_every_seconds === null ? null : durationText(s.rotate_every_seconds),
    updatedAt: iso(s.updated_at)!,
    updatedBy: s.updated_by,
  };
}

export function metadataOf(s: SecretRow, versions: VersionInfoRow[]): SecretMetadata {
  return {
    ...summaryOf(s),
    custom: s.custom,
    maxVersions: s.max_versions,
    casRequired: s.cas_required,
    createdAt: iso(s.created_at)!,
    createdBy: s.created_by,
    versions: versions.map(versionInfo),
  };
}
