import type { ColumnType, Generated } from 'kysely';

type Created = ColumnType<Date, string | Date | undefined, never>;
type Ts = ColumnType<Date, string | Date, string | Date>;
type TsNull = ColumnType<Date | null, string | Date | null | undefined, string | Date | null>;

import type { Role } from '../../contracts/identity.ts';
export { ROLES, type Role } from '../../contracts/identity.ts';

/** Tables of the identity module (migration 0004). No secret is stored in the clear. */
export interface IdentityTables {
  workspaces: { id: string; name: string; created_at: Created };
  users: {
    id: Generated<string>;
    email: string;
    display_name: string;
    status: ColumnType<'active' | 'disabled', 'active' | 'disabled' | undefined, 'active' | 'disabled'>;
    attributes: ColumnType<Record<string, string | number | boolean>, string | undefined, string>;
    /** argon2id PHC string (parameters included); null for SSO-only accounts. */
    password_hash: string | null;
    mfa_enabled: ColumnType<boolean, boolean | undefined, boolean>;
    created_at: Created;
    updated_at: ColumnType<Date, string | Date | undefined, string | Date>;
  };
  external_identities: {
    issuer: string;
    subject: string;
    user_id: string;
    created_at: Created;
    /** The sso provider that asserted it (migration 0014). */
    provider_id: string | null;
  };
  memberships: { workspace_id: string; user_id: string; role: Role; created_at: Created };
  sessions: {
    /** SHA-256 hex of the opaque session id; the id itself is only in the cookie. */
    id_hash: string;
    user_id: string;
    strength: string;
    created_at: Ts;
    last_seen_at: Ts;
    idle_expires_at: Ts;
    absolute_expires_at: Ts;
    authenticated_at: Ts;
    revoked_at: TsNull;
    source_ip: string | null;
  };
  service_accounts: {
    id: Generated<string>;
    workspace_id: string;
    name: string;
    role: Role;
    created_by: string;
    created_at: Created;
    disabled_at: TsNull;
  };
  api_tokens: {
    /** Public identifier, also the token's visible prefix (`srt_<id>_…`). */
    id: string;
    /** SHA-256 hex of the whole token. */
    hash: string;
    name: string;
    user_id: string | null;
    service_account_id: string | null;
    workspace_id: string;
    scopes: ColumnType<string[], string, string>;
    created_at: Ts;
    expires_at: Ts;
    revoked_at: TsNull;
    last_used_at: TsNull;
  };
  recovery_codes: { user_id: string; code_hash: string; used_at: TsNull };
  /** Barrier-sealed TOTP seed, context {totp_secrets, sealed, user_id}. */
  totp_secrets: { user_id: string; sealed: Buffer; created_at: Created; confirmed_at: TsNull };
  totp_used_steps: { user_id: string; step: ColumnType<string, string | number, never> };
  login_throttle: { key: string; attempts: number; window_start: Ts; next_allowed_at: TsNull; locked_until: TsNull };
  setup_tokens: { id: number; token_hash: string; expires_at: Ts; used_at: TsNull };
}
