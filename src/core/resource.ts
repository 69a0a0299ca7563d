/**
 * The one reference to a resource: what an authorization decision is made on and what an audit
 * event names. Tags feed decisions (classification rules) and are never written to the trail.
 */
export interface ResourceRef {
  /** `dataset`, `secret`, `drive`, `workspace`, `user`, `system` … (kebab case; Cedar's type in PascalCase). */
  type: string;
  id?: string;
  /** The workspace the resource belongs to (required for workspace-scoped types). */
  workspace?: string;
  /** Classification tags (`pii`, `eu-only` …). */
  tags?: readonly string[];
}

/** The reference as an audit event records it: no tags. */
export function auditRef(r: ResourceRef): { type: string; id?: string; workspace?: string } {
  return {
    type: r.type,
    ...(r.id !== undefined ? { id: r.id } : {}),
    ...(r.workspace !== undefined ? { workspace: r.workspace } : {}),
  };
}
