/** A dataset version as answers show it (no key material, no object location). */
import { num, type VersionRow } from './datasets.store.ts';

export interface VersionView {
  version: number;
  size: number;
  sha256: string;
  drive: string;
  mediaType: string;
  filename: string | null;
  tabularFormat: string | null;
  schema: unknown;
  createdBy: string;
  createdAt: string;
  committedAt: string;
}

export const versionView = (r: VersionRow): VersionView => ({
  version: r.version,
  size: num(r.plain_size) ?? 0,
  sha256: r.sha256 ?? '',
  drive: r.drive,
  mediaType: r.media_type,
  filename: r.filename,
  tabularFormat: r.tabular_format,
  schema: r.schema ?? null,
  createdBy: r.created_by,
  createdAt: r.created_at.toISOString(),
  committedAt: (r.committed_at ?? r.created_at).toISOString(),
});
