import type { ColumnType } from 'kysely';

/** bigint columns: `pg` returns text, PGlite a number; the store converts with `Number()`. */
type Int8 = ColumnType<string | number, number | string, number | string>;
/** jsonb columns: written as JSON text, read back parsed. */
type Json = ColumnType<unknown, string, string>;
type CreatedAt = ColumnType<Date, string | undefined, never>;

/** Tables of the audit module (migration 0003). Owned by src/modules/audit. */
export interface AuditTables {
  /** The hash chain, one row per event; `seq` is the chain position and the total order. */
  audit_events: {
    seq: Int8;
    time: ColumnType<Date, string, string>;
    actor_id: string;
    actor_kind: string;
    auth_method: string | null;
    action: string;
    resource_type: string;
    resource_id: string | null;
    workspace: string | null;
    outcome: string;
    request_id: string | null;
    source_ip: string | null;
    user_agent: string | null;
    details: Json;
    prev_hash: string;
    hash: string;
  };
  /** Drafts recorded in callers' transactions, waiting for the chainer. */
  audit_pending: {
    ingest_id: ColumnType<string | number, undefined, never>;
    draft: Json;
    created_at: CreatedAt;
  };
  /** One row (id = 1): the last chained event. */
  audit_head: {
    id: number;
    seq: Int8;
    hash: string;
    updated_at: ColumnType<Date, string | undefined, string>;
  };
  /** Signed checkpoints; `body` is the canonical JSON of the signed fields. */
  audit_checkpoints: {
    tree_size: Int8;
    body: string;
    signature: string;
    key_id: string;
    created_at: CreatedAt;
  };
  /** Audit keys: Ed25519 public key in the clear, seed and HMAC key barrier-sealed. */
  audit_keys: {
    key_id: string;
    public_key: Buffer;
    signing_seed_sealed: Buffer;
    hmac_key_sealed: Buffer;
    created_at: CreatedAt;
  };
}
