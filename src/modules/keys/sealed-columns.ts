/**
 * Every barrier-sealed database column, so rotation can count and rewrap what each key term
 * still protects. A new sealed column must be listed here (the keys test checks the audit and
 * workspace-key columns are).
 */
export interface SealedColumn {
  table: string;
  column: string;
  /** Column holding the row id bound into the ciphertext's associated data. */
  idColumn: string;
}

export const SEALED_COLUMNS: readonly SealedColumn[] = [
  { table: 'workspace_keys', column: 'sealed', idColumn: 'workspace_id' },
  { table: 'workspace_key_versions', column: 'sealed', idColumn: 'id' },
  { table: 'audit_keys', column: 'signing_seed_sealed', idColumn: 'key_id' },
  { table: 'audit_keys', column: 'hmac_key_sealed', idColumn: 'key_id' },
  { table: 'totp_secrets', column: 'sealed', idColumn: 'user_id' },
  { table: 'secret_versions', column: 'value_sealed', idColumn: 'seal_id' },
  { table: 'backup_settings', column: 'recovery_key_sealed', idColumn: 'id' },
  { table: 'backup_settings', column: 'ledger_key_sealed', idColumn: 'id' },
  { table: 'task_runs', column: 'sealed_dek', idColumn: 'id' },
  { table: 'sso_providers', column: 'secret_sealed', idColumn: 'id' },
  { table: 'sso_pending_logins', column: 'verifier_sealed', idColumn: 'state_hash' },
  { table: 'sso_cli_handoffs', column: 'session_sealed', idColumn: 'code_hash' },
  { table: 'data_policy_keys', column: 'sealed', idColumn: 'workspace_id' },
];
