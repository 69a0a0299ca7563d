import type { ColumnType } from 'kysely';
import type { Role } from './identity.ts';

type Created = ColumnType<Date, string | Date | undefined, never>;
type Ts = ColumnType<Date, string | Date, string | Date>;
type TsNull = ColumnType<Date | null, string | Date | null | undefined, string | Date | null>;

/** Tables of the sso module (migration 0014). Secrets are barrier-sealed, never in the clear. */
export interface SsoTables {
  sso_providers: {
    id: string;
    kind: 'oidc' | 'saml';
    display_name: string;
    /** OIDC issuer or SAML IdP entity id; unique. */
    issuer: string;
    enabled: ColumnType<boolean, boolean | undefined, boolean>;
    settings: ColumnType<Record<string, unknown>, string, string>;
    /** OIDC client secret, sealed (sso_providers/secret_sealed/<id>). */
    secret_sealed: Buffer | null;
    last_error: string | null;
    last_error_at: TsNull;
    created_at: Created;
    updated_at: ColumnType<Date, string | Date | undefined, string | Date>;
  };
  sso_pending_logins: {
    state_hash: string;
    provider_id: string;
    nonce: string;
    /** PKCE verifier, sealed (sso_pending_logins/verifier_sealed/<state hash>). */
    verifier_sealed: Buffer | null;
    request_id: string | null;
    return_to: string;
    link_user_id: string | null;
    /** Migration 0022: SHA-256 (base64url) of a CLI sign-in's verifier. */
    cli_challenge: ColumnType<string | null, string | null | undefined, string | null>;
    created_at: Created;
    expires_at: Ts;
    used_at: TsNull;
  };
  sso_assertion_ids: { provider_id: string; assertion_id: string; expires_at: Ts };
  sso_role_mappings: { workspace_id: string; provider_id: string; group_name: string; role: Role };
  sso_workspace_settings: {
    workspace_id: string;
    enforce_sso: boolean;
    updated_at: ColumnType<Date, string | Date | undefined, string | Date>;
  };
  /** Migration 0022: SCIM provisioning. */
  scim_tokens: {
    workspace_id: string;
    provider_id: string;
    token_hash: string;
    created_by: string;
    created_at: Created;
  };
  scim_users: {
    workspace_id: string;
    user_id: string;
    user_name: string;
    external_id: string | null;
    active: ColumnType<boolean, boolean | undefined, boolean>;
    created_at: Created;
    updated_at: ColumnType<Date, string | Date | undefined, string | Date>;
  };
  scim_groups: {
    id: string;
    workspace_id: string;
    display_name: string;
    external_id: string | null;
    created_at: Created;
    updated_at: ColumnType<Date, string | Date | undefined, string | Date>;
  };
  scim_group_members: { group_id: string; user_id: string };
  /** A CLI sign-in's session, sealed (sso_cli_handoffs/session_sealed/<code hash>), taken once. */
  sso_cli_handoffs: {
    code_hash: string;
    challenge: string;
    session_sealed: Buffer;
    user_id: string;
    strength: string;
    expires_at: Ts;
    used_at: TsNull;
  };
}
