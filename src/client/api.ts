/**
 * Strongroom's API as typed functions over any JSON transport: the CLI's HTTPS client
 * (`http-client.ts`) and the console's `fetch` both implement `JsonTransport`. Nothing here
 * touches Node or the DOM, so both sides import it.
 *
 * Paths are built here, once (`paths`); every dynamic segment is URI-encoded (secret paths keep
 * their `/`). Streaming calls (uploads, downloads, exports) send their bytes over their own
 * transport but take their paths from `paths` too.
 */
import type {
  ApiTokenInfo,
  AuditEvent,
  BuiltinRule,
  AuditFilters,
  AuditVerifyReport,
  EvidenceBundle,
  PostureHistoryItem,
  PostureReport,
  TaskRunInfo,
  NetworkAllowlistInfo,
  DatasetDetail,
  DatasetPreview,
  DatasetSummary,
  DatasetVersion,
  Diagnosis,
  Drive,
  DriveCheck,
  DriveInput,
  DriveUsage,
  KeyExport,
  KeysStatus,
  Member,
  MeInfo,
  QueryResult,
  ResultFileFormat,
  RevealedSecret,
  RewrapStarted,
  WorkspaceKeyRotated,
  WorkspaceKeyStatus,
  SealStatus,
  SecretMetadata,
  SecretMetadataInput,
  SecretSummary,
  SecretDue,
  SavedQueryResult,
  SaveQueryInput,
  SecretType,
  SessionInfo,
  SessionView,
  SsoProvider,
  SsoProviderSummary,
  SsoWorkspaceSettings,
  ScimTokenIssued,
  SsoSignedIn,
  UnsealProgress,
  UploadSession,
  UserAttributes,
  WorkspaceUser,
  DatasetProfile,
  ColumnTagsAnswer,
  ColumnTagsBody,
  PublishProfileAnswer,
  PublishProfileBody,
  RecomputeAnswer,
  SecretWrite,
  UploadSessionInput,
  DataPolicy,
  DataPolicyDoc,
  DataPolicySaved,
  DataPolicyVersion,
  RecoveryShares,
  RecoverySharesInput,
  RetentionPreview,
  BackupTargetInput,
  BackupTargetPatch,
  BackupTargetPatched,
  RestoreObjectsInput,
  RestoreObjectsAnswer,
} from '../contracts/index.ts';
export type { UploadSessionInput } from '../contracts/index.ts';

/** A problem+json answer (status ≥ 400) as an error: its code, title, detail and the whole body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    readonly detail?: string,
    /** The whole problem body (e.g. `diagnosis` of a failed drive add). */
    readonly problem?: Record<string, unknown>,
  ) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
  }
}

/** Turn a parsed error body into an ApiError (unknown shapes get the HTTP status as title). */
export function problemError(status: number, body: unknown): ApiError {
  const p = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return new ApiError(status, str(p.code) ?? 'UNKNOWN', str(p.title) ?? `HTTP ${status}`, str(p.detail), p);
}

export interface JsonTransport {
  /** One JSON request; resolves with the parsed body, rejects with an ApiError for status ≥ 400. */
  request<T>(method: string, path: string, body?: unknown, opts?: { timeoutMs?: number }): Promise<T>;
}

/** Backups, drills and prunes answer when the work is done: the connection may idle that long. */
const LONG_WORK = { timeoutMs: 6 * 3_600_000 };

/** One path segment: URI-encoded, so `/`, `?`, `#`, `..` in a name cannot change the route. */
const enc = (segment: string | number) => encodeURIComponent(String(segment));
/** A secret path: each of its segments encoded, its `/` kept. */
const encPath = (p: string) => p.split('/').map(enc).join('/');

/** A query value: absent (`undefined`) and empty strings are left out; an array repeats the key. */
export type QueryValue = string | number | boolean | readonly string[] | undefined;

function query(params: Record<string, QueryValue>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') continue;
    for (const x of typeof v === 'object' ? v : [v]) q.append(k, String(x));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const API = '/api/v1';
const wsBase = (workspaceId: string) => `${API}/workspaces/${enc(workspaceId)}`;
const datasetBase = (workspaceId: string, name: string) => `${wsBase(workspaceId)}/datasets/${enc(name)}`;
const uploadBase = (workspaceId: string, name: string, id: string) =>
  `${datasetBase(workspaceId, name)}/uploads/${enc(id)}`;
const driveBase = (workspaceId: string, name: string) => `${wsBase(workspaceId)}/drives/${enc(name)}`;

/** The vault's path families (`/secrets/<verb>/<secret path>`). */
export type SecretVerb = 'data' | 'metadata' | 'reveal' | 'delete' | 'undelete' | 'destroy' | 'rollback';

/**
 * Every path of the API, built here and nowhere else: the typed functions below, the console's
 * streaming uploads and links, and the CLI's streamed transfers all take their paths from this
 * table.
 */
export const paths = {
  authMe: () => `${API}/auth/me`,
  authLogin: () => `${API}/auth/login`,
  authMfa: () => `${API}/auth/mfa`,
  authLogout: () => `${API}/auth/logout`,
  authReauth: () => `${API}/auth/reauth`,
  authMfaEnrol: () => `${API}/auth/mfa/enrol`,
  authMfaEnrolVerify: () => `${API}/auth/mfa/enrol/verify`,
  setup: () => `${API}/setup`,
  authSessions: () => `${API}/auth/sessions`,
  authSession: (id: string) => `${API}/auth/sessions/${enc(id)}`,
  authSessionsRevokeAll: () => `${API}/auth/sessions/revoke-all`,
  authPassword: () => `${API}/auth/password`,
  /** `DELETE`: remove your own MFA (re-authentication needed). */
  authMfaOwn: () => `${API}/auth/mfa`,
  authRecoveryCodes: () => `${API}/auth/mfa/recovery-codes`,
  tokens: () => `${API}/tokens`,
  token: (id: string) => `${API}/tokens/${enc(id)}`,

  sysSealStatus: () => `${API}/sys/seal-status`,
  sysSeal: () => `${API}/sys/seal`,
  sysUnseal: () => `${API}/sys/unseal`,
  sysReloadRootKey: () => `${API}/sys/reload-root-key`,
  keysStatus: () => `${API}/keys/status`,
  backups: () => `${API}/backups`,
  backup: (id: string) => `${API}/backups/${encodeURIComponent(id)}`,
  keysRotate: () => `${API}/keys/rotate`,
  keysRewrap: () => `${API}/keys/rewrap`,
  keysRotateRoot: () => `${API}/keys/rotate-root`,
  keyTermRetire: (term: number) => `${API}/keys/terms/${enc(term)}/retire`,
  workspaceKeyExport: (workspaceId: string) => `${API}/keys/workspaces/${enc(workspaceId)}/export`,
  workspaceKey: (workspaceId: string) => `${API}/keys/workspaces/${enc(workspaceId)}`,
  workspaceKeyRotate: (workspaceId: string) => `${API}/keys/workspaces/${enc(workspaceId)}/rotate`,
  workspaceKeyRewrap: (workspaceId: string) => `${API}/keys/workspaces/${enc(workspaceId)}/rewrap`,
  ssoProviders: () => `${API}/sso/providers`,
  ssoProvider: (id: string) => `${API}/sso/providers/${enc(id)}`,
  ssoSignInProviders: () => `${API}/auth/sso/providers`,
  /** Where a browser starts single sign-on (a redirect to the IdP). */
  ssoStart: (id: string, returnTo = '/') => `${API}/auth/sso/${enc(id)}/start${query({ returnTo })}`,
  ssoLink: (id: string) => `${API}/auth/sso/${enc(id)}/link`,
  ssoSettings: (workspaceId: string) => `${wsBase(workspaceId)}/sso`,
  ssoMappings: (workspaceId: string, provider: string) => `${wsBase(workspaceId)}/sso/mappings/${enc(provider)}`,
  ssoEnforcement: (workspaceId: string) => `${wsBase(workspaceId)}/sso/enforcement`,
  ssoScimToken: (workspaceId: string) => `${wsBase(workspaceId)}/sso/scim-token`,
  /** Where the CLI starts single sign-on (`strongroom login --sso`): `challenge` = base64url SHA-256 of its verifier. */
  ssoCliStart: (id: string, challenge: string) => `${API}/auth/sso/${enc(id)}/start${query({ cli: challenge })}`,
  ssoCliRedeem: () => `${API}/auth/sso/cli/redeem`,
  /** The installation-wide trail (operators); workspace members use `auditEvents`. */
  auditTrailEvents: (f: AuditFilters) => `${API}/audit/events${query({ ...f })}`,
  auditTrailVerify: () => `${API}/audit/verify`,
  /** Task runs: every run (operator) or a workspace's. */
  tasks: (w?: string) => (w ? `${wsBase(w)}/tasks` : `${API}/tasks`),
  /** Security posture: the installation's (operator) or a workspace's. */
  posture: (workspaceId?: string) => (workspaceId ? `${wsBase(workspaceId)}/posture` : `${API}/posture`),

  ws: wsBase,
  users: (workspaceId: string) => `${wsBase(workspaceId)}/users`,
  userDisable: (workspaceId: string, id: string) => `${wsBase(workspaceId)}/users/${enc(id)}/disable`,
  userRoles: (workspaceId: string, id: string) => `${wsBase(workspaceId)}/users/${enc(id)}/roles`,
  userEnable: (workspaceId: string, id: string) => `${wsBase(workspaceId)}/users/${enc(id)}/enable`,
  userAttributes: (workspaceId: string, id: string) => `${wsBase(workspaceId)}/users/${enc(id)}/attributes`,
  userMfaReset: (workspaceId: string, id: string) => `${wsBase(workspaceId)}/users/${enc(id)}/mfa/reset`,
  members: (workspaceId: string) => `${wsBase(workspaceId)}/members`,
  builtinRules: (workspaceId: string) => `${wsBase(workspaceId)}/policies/builtin`,
  dataPolicies: (workspaceId: string) => `${wsBase(workspaceId)}/data-policies`,
  dataPolicy: (workspaceId: string, name: string) => `${wsBase(workspaceId)}/data-policies/${enc(name)}`,

  drives: (workspaceId: string) => `${wsBase(workspaceId)}/drives`,
  drive: (workspaceId: string, name: string) => driveBase(workspaceId, name),
  /** Test a definition that is not saved. */
  drivesTest: (workspaceId: string) => `${wsBase(workspaceId)}/drives/test`,
  /** Test a saved drive again. */
  driveTest: (workspaceId: string, name: string) => `${driveBase(workspaceId, name)}/test`,

  datasets: (workspaceId: string, f: Record<string, QueryValue> = {}) => `${wsBase(workspaceId)}/datasets${query(f)}`,
  dataset: (workspaceId: string, name: string) => datasetBase(workspaceId, name),
  /** `PUT` with the file as body (and `size`, `sha256`, … as query) makes the next version. */
  datasetVersions: (workspaceId: string, name: string, params: Record<string, QueryValue> = {}) =>
    `${datasetBase(workspaceId, name)}/versions${query(params)}`,
  datasetVersion: (workspaceId: string, name: string, v: number) =>
    `${datasetBase(workspaceId, name)}/versions/${enc(v)}`,
  datasetContent: (workspaceId: string, name: string, v: number) =>
    `${datasetBase(workspaceId, name)}/versions/${enc(v)}/content`,
  /** Schema and first rows (`limit` 1–1000, `offset`). */
  datasetPreview: (workspaceId: string, name: string, v: number, params: { limit?: number; offset?: number } = {}) =>
    `${datasetBase(workspaceId, name)}/versions/${enc(v)}/preview${query(params)}`,
  /** A whole version as CSV, JSON lines or Parquet (streamed download). */
  datasetExport: (workspaceId: string, name: string, v: number, format: ResultFileFormat) =>
    `${datasetBase(workspaceId, name)}/versions/${enc(v)}/export${query({ format })}`,
  /** `POST {sql, format, …}`: a query result (or a version) stored as the next version of `name`. */
  datasetFromQuery: (workspaceId: string, name: string) => `${datasetBase(workspaceId, name)}/versions/from-query`,
  /** `POST {sql, limit?, format?}`: read-only SQL over the workspace's datasets. */
  query: (workspaceId: string) => `${wsBase(workspaceId)}/query`,
  uploads: (workspaceId: string, name: string) => `${datasetBase(workspaceId, name)}/uploads`,
  upload: (workspaceId: string, name: string, id: string) => uploadBase(workspaceId, name, id),
  uploadComplete: (workspaceId: string, name: string, id: string) => `${uploadBase(workspaceId, name, id)}/complete`,
  uploadPart: (workspaceId: string, name: string, id: string, n: number) =>
    `${uploadBase(workspaceId, name, id)}/parts/${enc(n)}`,

  secrets: (workspaceId: string, params: Record<string, QueryValue> = {}) =>
    `${wsBase(workspaceId)}/secrets${query(params)}`,
  secret: (workspaceId: string, verb: SecretVerb, path: string, params: Record<string, QueryValue> = {}) =>
    `${wsBase(workspaceId)}/secrets/${verb}/${encPath(path)}${query(params)}`,

  auditEvents: (workspaceId: string, f: AuditFilters) => `${wsBase(workspaceId)}/audit/events${query({ ...f })}`,
  auditExport: (workspaceId: string, filters: AuditFilters, format: 'csv' | 'jsonl') =>
    `${wsBase(workspaceId)}/audit/events${query({ ...filters, format })}`,
  auditVerify: (workspaceId: string) => `${wsBase(workspaceId)}/audit/verify`,
  /** The whole filtered range as one file (`audit-events-<ws>.jsonl` / `.csv`), streamed by the server. */
  auditFullExport: (workspaceId: string, filters: Omit<AuditFilters, 'cursor' | 'limit'>, format: 'csv' | 'jsonl') =>
    `${wsBase(workspaceId)}/audit/export${query({ ...filters, format })}`,
  defaultDrive: (workspaceId: string) => `${wsBase(workspaceId)}/default-drive`,
  driveUsage: (workspaceId: string, name: string) => `${driveBase(workspaceId, name)}/usage`,
  driveHealth: (workspaceId: string, name: string) => `${driveBase(workspaceId, name)}/health`,
  driveCredentials: (workspaceId: string, name: string) => `${driveBase(workspaceId, name)}/credentials`,
  secretsDue: (workspaceId: string, withinDays: number) => `${wsBase(workspaceId)}/secrets-due${query({ withinDays })}`,
};

export function createApi(t: JsonTransport) {
  const p = paths;
  return {
    auth: {
      me: () => t.request<MeInfo>('GET', p.authMe()),
      login: (email: string, password: string) => t.request<SessionInfo>('POST', p.authLogin(), { email, password }),
      mfa: (code: string) => t.request<SessionInfo>('POST', p.authMfa(), { code }),
      logout: () => t.request<{ signedOut: true }>('POST', p.authLogout()),
      reauth: (password: string, code?: string) =>
        t.request<{ reauthenticated: true; validForSeconds: number }>('POST', p.authReauth(), {
          password,
          ...(code ? { code } : {}),
        }),
      mfaEnrol: () => t.request<{ secret: string; otpauthUri: string }>('POST', p.authMfaEnrol()),
      mfaEnrolVerify: (code: string) =>
        t.request<{ recoveryCodes: string[]; csrfToken?: string }>('POST', p.authMfaEnrolVerify(), { code }),
      /** Public: whether an owner exists (no: the console offers "Create the first owner"). */
      setupStatus: () => t.request<{ ownerExists: boolean }>('GET', p.setup()),
      /** Public: create the first owner with the one-time setup token. */
      setup: (body: { token: string; email: string; displayName: string; password: string }) =>
        t.request<{ user: SessionInfo['user'] }>('POST', p.setup(), body),
      sessions: () => t.request<{ sessions: SessionView[] }>('GET', p.authSessions()),
      revokeSession: (id: string) => t.request<{ revoked: true }>('DELETE', p.authSession(id)),
      /** Sign out everywhere (this session included). */
      revokeAllSessions: () => t.request<{ revoked: number }>('POST', p.authSessionsRevokeAll()),
      changePassword: (password: string) => t.request<{ changed: true }>('POST', p.authPassword(), { password }),
      resetMfa: () => t.request<{ reset: true }>('DELETE', p.authMfaOwn()),
      regenerateRecoveryCodes: () => t.request<{ recoveryCodes: string[] }>('POST', p.authRecoveryCodes()),
    },
    drives: {
      list: (workspaceId: string) => t.request<{ drives: Drive[] }>('GET', p.drives(workspaceId)),
      get: (workspaceId: string, name: string) => t.request<Drive>('GET', p.drive(workspaceId, name)),
      test: (workspaceId: string, input: DriveInput) => t.request<Diagnosis>('POST', p.drivesTest(workspaceId), input),
      add: (workspaceId: string, input: DriveInput) =>
        t.request<{ drive: Drive; diagnosis: Diagnosis }>('POST', p.drives(workspaceId), input),
      retest: (workspaceId: string, name: string) => t.request<Diagnosis>('POST', p.driveTest(workspaceId, name)),
      remove: (workspaceId: string, name: string) =>
        t.request<{ name: string; removed: true; credentialsDestroyed: boolean }>('DELETE', p.drive(workspaceId, name)),
      /** Owners and admins: where new datasets go when no drive is named. */
      setDefault: (workspaceId: string, drive: string) =>
        t.request<{ defaultDrive: string; previous: string | null }>('PUT', p.defaultDrive(workspaceId), { drive }),
      usage: (workspaceId: string, name: string) => t.request<DriveUsage>('GET', p.driveUsage(workspaceId, name)),
      health: (workspaceId: string, name: string) =>
        t.request<{ checks: DriveCheck[] }>('GET', p.driveHealth(workspaceId, name)),
      /** New credentials, tested before they replace the old ones (needs a recent sign-in). */
      rotateCredentials: (workspaceId: string, name: string, credentials: Record<string, unknown>) =>
        t.request<{ drive: Drive; diagnosis: Diagnosis }>('PUT', p.driveCredentials(workspaceId, name), {
          credentials,
        }),
    },
    datasets: {
      /** One page (default 100, at most 1000); pass `next` back as `after` for the following one. */
      list: (workspaceId: string, f: { search?: string; tag?: string; after?: string; limit?: number } = {}) =>
        t.request<{ datasets: DatasetSummary[]; next: string | null }>('GET', p.datasets(workspaceId, f)),
      get: (workspaceId: string, name: string) => t.request<DatasetDetail>('GET', p.dataset(workspaceId, name)),
      version: (workspaceId: string, name: string, v: number) =>
        t.request<DatasetVersion>('GET', p.datasetVersion(workspaceId, name, v)),
      /** The profile of a tabular version, computed through the caller's view (issue 18). */
      profile: (workspaceId: string, name: string, v: number) =>
        t.request<DatasetProfile>('GET', `${p.datasetVersion(workspaceId, name, v)}/profile`),
      /** Queues a recomputation of a version's stored profile (202). */
      recomputeProfile: (workspaceId: string, name: string, v: number) =>
        t.request<RecomputeAnswer>('POST', `${p.datasetVersion(workspaceId, name, v)}/profile`),
      /** One column's classification tags; `setColumnTags` records a steward's decision. */
      columnTags: (workspaceId: string, name: string, col: string) =>
        t.request<ColumnTagsAnswer>('GET', `${p.dataset(workspaceId, name)}/columns/${encodeURIComponent(col)}/tags`),
      setColumnTags: (workspaceId: string, name: string, col: string, body: ColumnTagsBody) =>
        t.request<ColumnTagsAnswer>(
          'PUT',
          `${p.dataset(workspaceId, name)}/columns/${encodeURIComponent(col)}/tags`,
          body,
        ),
      /** Publishes a locally computed profile as the next version of a metadata-only dataset. */
      publishProfile: (workspaceId: string, name: string, body: PublishProfileBody) =>
        t.request<PublishProfileAnswer>('POST', `${p.dataset(workspaceId, name)}/published-profiles`, body),
      deleteVersion: (workspaceId: string, name: string, v: number) =>
        t.request<{ dataset: string; deleted: number[] }>('DELETE', p.datasetVersion(workspaceId, name, v)),
      remove: (workspaceId: string, name: string) =>
        t.request<{ dataset: string; deleted: number[] }>('DELETE', p.dataset(workspaceId, name)),
      /** Description and/or tags (removing a tag needs the right to read the dataset under its current tags). */
      update: (
        workspaceId: string,
        name: string,
        body: { description?: string; tags?: string[]; liftPolicies?: string[] },
      ) => t.request<Omit<DatasetDetail, 'versions'>>('PATCH', p.dataset(workspaceId, name), body),
    },
    /** Governed reads: preview, SQL (JSON answer; files stream through `paths.query`), saved results. */
    query: {
      preview: (workspaceId: string, name: string, v: number, params: { limit?: number; offset?: number } = {}) =>
        t.request<DatasetPreview>('GET', p.datasetPreview(workspaceId, name, v, params)),
      run: (workspaceId: string, body: { sql: string; limit?: number }) =>
        t.request<QueryResult>('POST', p.query(workspaceId), { ...body, format: 'json' }),
      saveAs: (workspaceId: string, name: string, body: SaveQueryInput) =>
        t.request<SavedQueryResult>('POST', p.datasetFromQuery(workspaceId, name), body),
    },
    uploads: {
      create: (workspaceId: string, name: string, body: UploadSessionInput) =>
        t.request<UploadSession>('POST', p.uploads(workspaceId, name), body),
      status: (workspaceId: string, name: string, id: string) =>
        t.request<UploadSession>('GET', p.upload(workspaceId, name, id)),
      complete: (workspaceId: string, name: string, id: string) =>
        t.request<{ dataset: string; version: DatasetVersion }>('POST', p.uploadComplete(workspaceId, name, id)),
      cancel: (workspaceId: string, name: string, id: string) =>
        t.request<void>('DELETE', p.upload(workspaceId, name, id)),
    },
    secrets: {
      /** One page of up to 1000; pass `next` back as `after` for the following one. */
      list: (workspaceId: string, prefix = '', after?: string) =>
        t.request<{ secrets: SecretSummary[]; next: string | null }>(
          'GET',
          p.secrets(workspaceId, { prefix, limit: 1000, after }),
        ),
      metadata: (workspaceId: string, path: string) =>
        t.request<SecretMetadata>('GET', p.secret(workspaceId, 'metadata', path)),
      write: (
        workspaceId: string,
        path: string,
        body: { type: SecretType; value: Record<string, unknown>; cas?: number; metadata?: SecretMetadataInput },
      ) => t.request<SecretWrite>('PUT', p.secret(workspaceId, 'data', path), body),
      updateMetadata: (workspaceId: string, path: string, body: SecretMetadataInput) =>
        t.request<{ path: string; pruned: number[] }>('PATCH', p.secret(workspaceId, 'metadata', path), body),
      reveal: (workspaceId: string, path: string, version?: number) =>
        t.request<RevealedSecret>('POST', p.secret(workspaceId, 'reveal', path, { version })),
      delete: (workspaceId: string, path: string, versions?: number[]) =>
        t.request<{ path: string; versions: number[] }>(
          'POST',
          p.secret(workspaceId, 'delete', path),
          versions ? { versions } : {},
        ),
      undelete: (workspaceId: string, path: string, versions: number[]) =>
        t.request<{ path: string; versions: number[] }>('POST', p.secret(workspaceId, 'undelete', path), { versions }),
      destroy: (workspaceId: string, path: string, versions: number[]) =>
        t.request<{ path: string; versions: number[] }>('POST', p.secret(workspaceId, 'destroy', path), { versions }),
      destroyAll: (workspaceId: string, path: string) =>
        t.request<{ path: string; destroyed: true; versions: number }>(
          'DELETE',
          p.secret(workspaceId, 'metadata', path),
        ),
      /** Secrets expired or due (rotation, expiry, certificate end) now or within `withinDays`. */
      due: (workspaceId: string, withinDays = 0) =>
        t.request<{ secrets: SecretDue[] }>('GET', p.secretsDue(workspaceId, withinDays)),
      /** A new version holding the value of version `version` (check-and-set with `cas`). */
      rollback: (workspaceId: string, path: string, version: number, cas?: number) =>
        t.request<SecretWrite>('POST', p.secret(workspaceId, 'rollback', path), {
          version,
          ...(cas !== undefined ? { cas } : {}),
        }),
    },
    audit: {
      events: (workspaceId: string, f: AuditFilters) =>
        t.request<{ events: AuditEvent[]; nextCursor: string | null }>('GET', p.auditEvents(workspaceId, f)),
      verify: (workspaceId: string) => t.request<AuditVerifyReport>('GET', p.auditVerify(workspaceId)),
    },
    /** The installation-wide audit trail (operator credential). */
    auditTrail: {
      events: (f: AuditFilters) =>
        t.request<{ events: AuditEvent[]; nextCursor: string | null }>('GET', p.auditTrailEvents(f)),
      verify: () => t.request<AuditVerifyReport>('GET', p.auditTrailVerify()),
    },
    users: {
      list: (workspaceId: string) => t.request<{ users: WorkspaceUser[] }>('GET', p.users(workspaceId)),
      create: (workspaceId: string, body: { email: string; displayName: string; password?: string; role: string }) =>
        t.request<{ user: WorkspaceUser }>('POST', p.users(workspaceId), body),
      disable: (workspaceId: string, id: string) =>
        t.request<{ disabled: true }>('POST', p.userDisable(workspaceId, id)),
      setRoles: (workspaceId: string, id: string, roles: string[]) =>
        t.request<{ roles: string[] }>('PUT', p.userRoles(workspaceId, id), { roles }),
      enable: (workspaceId: string, id: string) => t.request<{ enabled: true }>('POST', p.userEnable(workspaceId, id)),
      setAttributes: (workspaceId: string, id: string, attributes: UserAttributes) =>
        t.request<{ attributes: UserAttributes }>('PUT', p.userAttributes(workspaceId, id), { attributes }),
      /** Another member's MFA removed (re-authentication needed); their sessions end. */
      resetMfa: (workspaceId: string, id: string) =>
        t.request<{ reset: true; sessionsEnded: number }>('POST', p.userMfaReset(workspaceId, id)),
      /** Names and emails of the workspace's members (any role of it). */
      members: (workspaceId: string) => t.request<{ members: Member[] }>('GET', p.members(workspaceId)),
    },
    policies: {
      builtin: (workspaceId: string) => t.request<{ rules: BuiltinRule[] }>('GET', p.builtinRules(workspaceId)),
    },
    /** Data protection policies (masks, hide, row filters, aggregation thresholds). */
    dataPolicies: {
      list: (workspaceId: string) => t.request<{ policies: DataPolicy[] }>('GET', p.dataPolicies(workspaceId)),
      show: (workspaceId: string, name: string) => t.request<DataPolicy>('GET', p.dataPolicy(workspaceId, name)),
      history: (workspaceId: string, name: string) =>
        t.request<{ versions: DataPolicyVersion[] }>('GET', `${p.dataPolicy(workspaceId, name)}/history`),
      /** Create or replace; `dryRun` validates and answers the access diff without saving. */
      save: (
        workspaceId: string,
        name: string,
        body: { policy: DataPolicyDoc; expectedVersion?: number; dryRun?: boolean },
      ) => t.request<DataPolicySaved>('PUT', p.dataPolicy(workspaceId, name), body),
      remove: (workspaceId: string, name: string) => t.request<void>('DELETE', p.dataPolicy(workspaceId, name)),
    },
    tokens: {
      list: () => t.request<{ tokens: ApiTokenInfo[] }>('GET', p.tokens()),
      create: (body: { name: string; scopes: string[]; expiresInDays: number; workspace: string }) =>
        t.request<{ token: string; info: ApiTokenInfo }>('POST', p.tokens(), body),
      revoke: (id: string) => t.request<{ revoked: true }>('DELETE', p.token(id)),
    },
    /** Seal state and unsealing (operator credential; `sealStatus` and `unseal` are public). */
    sys: {
      sealStatus: () => t.request<SealStatus>('GET', p.sysSealStatus()),
      seal: () => t.request<{ sealed: true }>('POST', p.sysSeal()),
      unseal: (share: string) => t.request<UnsealProgress>('POST', p.sysUnseal(), { share }),
      reloadRootKey: () => t.request<{ sealed: false }>('POST', p.sysReloadRootKey()),
    },
    /** Background task runs and their logs: no workspace = every run (operator credential). */
    tasks: {
      list: (kind?: string, limit = 50, w?: string) =>
        t.request<{ tasks: TaskRunInfo[]; kinds: string[] }>('GET', `${p.tasks(w)}${query({ kind, limit })}`),
      get: (id: string, w?: string) => t.request<TaskRunInfo>('GET', `${p.tasks(w)}/${enc(id)}`),
      log: (id: string, w?: string) =>
        t.request<{ id: string; entries: Record<string, unknown>[] }>('GET', `${p.tasks(w)}/${enc(id)}/log`),
    },
    /** A workspace's client network allowlist and the effective lists (owners, admins, auditors). */
    network: {
      allowlist: (w: string) => t.request<NetworkAllowlistInfo>('GET', `${wsBase(w)}/network-allowlist`),
      setAllowlist: (w: string, cidrs: string[]) =>
        t.request<NetworkAllowlistInfo>('PUT', `${wsBase(w)}/network-allowlist`, { cidrs }),
    },
    /** Security posture: no workspace = the installation (operator credential). */
    posture: {
      latest: (workspaceId?: string) => t.request<PostureReport>('GET', p.posture(workspaceId)),
      run: (workspaceId?: string) => t.request<PostureReport>('POST', `${p.posture(workspaceId)}/run`),
      history: (workspaceId?: string, control?: string, limit = 100) =>
        t.request<{ results: PostureHistoryItem[] }>(
          'GET',
          `${p.posture(workspaceId)}/history${query({ control, limit })}`,
        ),
      evidence: (workspaceId?: string) => t.request<EvidenceBundle>('POST', `${p.posture(workspaceId)}/evidence`),
    },
    /** Key management (operator credential). */
    keys: {
      status: () => t.request<KeysStatus>('GET', p.keysStatus()),
      rotate: () => t.request<{ activeTerm: number }>('POST', p.keysRotate()),
      rewrap: () => t.request<RewrapStarted>('POST', p.keysRewrap()),
      retireTerm: (term: number) => t.request<{ retired: number }>('POST', p.keyTermRetire(term)),
      rotateRoot: () => t.request<{ rotated: true }>('POST', p.keysRotateRoot()),
      /** Every data key of a workspace, unwrapped: as sensitive as the data itself. */
      exportWorkspace: (workspaceId: string) => t.request<KeyExport>('POST', p.workspaceKeyExport(workspaceId)),
      /** A workspace key: its versions, the data keys wrapped under each, the rewrap's progress. */
      workspaceStatus: (workspaceId: string) => t.request<WorkspaceKeyStatus>('GET', p.workspaceKey(workspaceId)),
      /** A new workspace key version for every new wrap; older versions stay readable until rewrapped. */
      rotateWorkspace: (workspaceId: string) =>
        t.request<WorkspaceKeyRotated>('POST', p.workspaceKeyRotate(workspaceId)),
      /** Re-wraps the workspace's data keys under its current version, in the background (202). */
      rewrapWorkspace: (workspaceId: string) => t.request<RewrapStarted>('POST', p.workspaceKeyRewrap(workspaceId)),
    },
    /** Backups of the whole installation (operator). Answers are JSON as the API gives them. */
    backups: {
      list: () => t.request<Record<string, unknown>>('GET', p.backups()),
      status: () => t.request<Record<string, unknown>>('GET', `${p.backups()}/status`),
      show: (id: string) => t.request<Record<string, unknown>>('GET', p.backup(id)),
      create: (target?: string) =>
        t.request<Record<string, unknown>>('POST', p.backups(), target ? { target } : {}, LONG_WORK),
      verify: (id: string) =>
        t.request<Record<string, unknown>>('POST', `${p.backup(id)}/verify`, undefined, LONG_WORK),
      prune: () => t.request<{ deleted: string[] }>('POST', `${p.backups()}/prune`, undefined, LONG_WORK),
      exportRecoveryKey: () => t.request<{ recoveryKey: string }>('POST', `${p.backups()}/recovery-key`),
      exportRecoveryShares: (body: RecoverySharesInput) =>
        t.request<RecoveryShares>('POST', `${p.backups()}/recovery-key/shares`, body),
      targets: () => t.request<Record<string, unknown>>('GET', `${p.backups()}/targets`),
      addTarget: (body: BackupTargetInput) => t.request<{ name: string }>('POST', `${p.backups()}/targets`, body),
      /** Turns the incremental copy of dataset ciphertext objects to a target on or off. */
      updateTarget: (name: string, body: BackupTargetPatch) =>
        t.request<BackupTargetPatched>('PATCH', `${p.backups()}/targets/${encodeURIComponent(name)}`, body),
      /** Puts dataset objects back from a target's copies (long work). */
      restoreObjects: (name: string, body: RestoreObjectsInput) =>
        t.request<RestoreObjectsAnswer>(
          'POST',
          `${p.backups()}/targets/${encodeURIComponent(name)}/restore-objects`,
          body,
          LONG_WORK,
        ),
      removeTarget: (name: string) =>
        t.request<{ removed: string }>('DELETE', `${p.backups()}/targets/${encodeURIComponent(name)}`),
    },
    /** Single sign-on: providers (operator credential), a workspace's mappings and enforcement (owners, admins). */
    sso: {
      providers: () => t.request<{ providers: SsoProvider[] }>('GET', p.ssoProviders()),
      provider: (id: string) => t.request<SsoProvider>('GET', p.ssoProvider(id)),
      addProvider: (body: { id: string; kind: 'oidc' | 'saml' } & Record<string, unknown>) =>
        t.request<SsoProvider>('POST', p.ssoProviders(), body),
      updateProvider: (id: string, body: { kind: 'oidc' | 'saml' } & Record<string, unknown>) =>
        t.request<SsoProvider>('PUT', p.ssoProvider(id), body),
      removeProvider: (id: string) => t.request<void>('DELETE', p.ssoProvider(id)),
      signInProviders: () => t.request<{ providers: SsoProviderSummary[] }>('GET', p.ssoSignInProviders()),
      settings: (workspaceId: string) => t.request<SsoWorkspaceSettings>('GET', p.ssoSettings(workspaceId)),
      setMappings: (workspaceId: string, provider: string, mappings: { group: string; role: string }[]) =>
        t.request<{ mappings: SsoWorkspaceSettings['mappings'] }>('PUT', p.ssoMappings(workspaceId, provider), {
          mappings,
        }),
      setEnforcement: (workspaceId: string, enforce: boolean) =>
        t.request<{ enforce: boolean }>('PUT', p.ssoEnforcement(workspaceId), { enforce }),
      /** A new SCIM token for the workspace (replaces any; shown once). */
      rotateScimToken: (workspaceId: string, provider: string) =>
        t.request<ScimTokenIssued>('POST', p.ssoScimToken(workspaceId), { provider }),
      revokeScimToken: (workspaceId: string) => t.request<void>('DELETE', p.ssoScimToken(workspaceId)),
      /** The CLI trades the code shown in the browser, with its verifier, for the session. */
      redeemCli: (code: string, verifier: string) =>
        t.request<SsoSignedIn>('POST', p.ssoCliRedeem(), { code, verifier }),
    },
    /** Retention, legal holds, termination and a person's rights (operator). */
    retention: {
      show: () => t.request<Record<string, unknown>>('GET', `${API}/retention`),
      set: (classes: Record<string, number>) => t.request<Record<string, unknown>>('PUT', `${API}/retention`, classes),
      /** What the next purge would delete with these classes (nothing is saved). */
      preview: (classes: Record<string, number>) =>
        t.request<RetentionPreview>('POST', `${API}/retention/preview`, classes),
      purge: () => t.request<Record<string, unknown>>('POST', `${API}/retention/purge`),
      holds: (all = false) => t.request<{ holds: unknown[] }>('GET', `${API}/holds${all ? '?all=true' : ''}`),
      addHold: (body: { scope: string; target: string; workspace?: string; reason: string }) =>
        t.request<{ id: string }>('POST', `${API}/holds`, body),
      releaseHold: (id: string) => t.request<{ released: string }>('DELETE', `${API}/holds/${encodeURIComponent(id)}`),
      exportUser: (id: string) =>
        t.request<Record<string, unknown>>('GET', `${API}/retention/users/${encodeURIComponent(id)}/export`),
      eraseUser: (id: string) =>
        t.request<Record<string, unknown>>('POST', `${API}/retention/users/${encodeURIComponent(id)}/erase`),
      terminate: (workspaceId: string) =>
        t.request<Record<string, unknown>>('POST', `${API}/retention/terminations`, { workspace: workspaceId }),
      cancelTermination: (workspaceId: string) =>
        t.request<Record<string, unknown>>(
          'DELETE',
          `${API}/retention/terminations/${encodeURIComponent(workspaceId)}`,
        ),
    },
  };
}

export type Api = ReturnType<typeof createApi>;
