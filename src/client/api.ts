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
  UnsealProgress,
  UploadSession,
  UserAttributes,
  WorkspaceUser,
  DatasetProfile,
} from './api-types.ts';

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
const wsBase = (w: string) => `${API}/workspaces/${enc(w)}`;
const datasetBase = (w: string, name: string) => `${wsBase(w)}/datasets/${enc(name)}`;
const uploadBase = (w: string, name: string, id: string) => `${datasetBase(w, name)}/uploads/${enc(id)}`;
const driveBase = (w: string, name: string) => `${wsBase(w)}/drives/${enc(name)}`;

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
  workspaceKeyExport: (w: string) => `${API}/keys/workspaces/${enc(w)}/export`,
  ssoProviders: () => `${API}/sso/providers`,
  ssoProvider: (id: string) => `${API}/sso/providers/${enc(id)}`,
  ssoSignInProviders: () => `${API}/auth/sso/providers`,
  /** Where a browser starts single sign-on (a redirect to the IdP). */
  ssoStart: (id: string, returnTo = '/') => `${API}/auth/sso/${enc(id)}/start${query({ returnTo })}`,
  ssoLink: (id: string) => `${API}/auth/sso/${enc(id)}/link`,
  ssoSettings: (w: string) => `${wsBase(w)}/sso`,
  ssoMappings: (w: string, provider: string) => `${wsBase(w)}/sso/mappings/${enc(provider)}`,
  ssoEnforcement: (w: string) => `${wsBase(w)}/sso/enforcement`,
  /** The installation-wide trail (operators); workspace members use `auditEvents`. */
  auditTrailEvents: (f: AuditFilters) => `${API}/audit/events${query({ ...f })}`,
  auditTrailVerify: () => `${API}/audit/verify`,
  /** Security posture: the installation's (operator) or a workspace's. */
  posture: (w?: string) => (w ? `${wsBase(w)}/posture` : `${API}/posture`),

  ws: wsBase,
  users: (w: string) => `${wsBase(w)}/users`,
  userDisable: (w: string, id: string) => `${wsBase(w)}/users/${enc(id)}/disable`,
  userRoles: (w: string, id: string) => `${wsBase(w)}/users/${enc(id)}/roles`,
  userEnable: (w: string, id: string) => `${wsBase(w)}/users/${enc(id)}/enable`,
  userAttributes: (w: string, id: string) => `${wsBase(w)}/users/${enc(id)}/attributes`,
  userMfaReset: (w: string, id: string) => `${wsBase(w)}/users/${enc(id)}/mfa/reset`,
  members: (w: string) => `${wsBase(w)}/members`,
  builtinRules: (w: string) => `${wsBase(w)}/policies/builtin`,

  drives: (w: string) => `${wsBase(w)}/drives`,
  drive: (w: string, name: string) => driveBase(w, name),
  /** Test a definition that is not saved. */
  drivesTest: (w: string) => `${wsBase(w)}/drives/test`,
  /** Test a saved drive again. */
  driveTest: (w: string, name: string) => `${driveBase(w, name)}/test`,

  datasets: (w: string, f: Record<string, QueryValue> = {}) => `${wsBase(w)}/datasets${query(f)}`,
  dataset: (w: string, name: string) => datasetBase(w, name),
  /** `PUT` with the file as body (and `size`, `sha256`, … as query) makes the next version. */
  datasetVersions: (w: string, name: string, params: Record<string, QueryValue> = {}) =>
    `${datasetBase(w, name)}/versions${query(params)}`,
  datasetVersion: (w: string, name: string, v: number) => `${datasetBase(w, name)}/versions/${enc(v)}`,
  datasetContent: (w: string, name: string, v: number) => `${datasetBase(w, name)}/versions/${enc(v)}/content`,
  /** Schema and first rows (`limit` 1–1000, `offset`). */
  datasetPreview: (w: string, name: string, v: number, params: { limit?: number; offset?: number } = {}) =>
    `${datasetBase(w, name)}/versions/${enc(v)}/preview${query(params)}`,
  /** A whole version as CSV, JSON lines or Parquet (streamed download). */
  datasetExport: (w: string, name: string, v: number, format: ResultFileFormat) =>
    `${datasetBase(w, name)}/versions/${enc(v)}/export${query({ format })}`,
  /** `POST {sql, format, …}`: a query result (or a version) stored as the next version of `name`. */
  datasetFromQuery: (w: string, name: string) => `${datasetBase(w, name)}/versions/from-query`,
  /** `POST {sql, limit?, format?}`: read-only SQL over the workspace's datasets. */
  query: (w: string) => `${wsBase(w)}/query`,
  uploads: (w: string, name: string) => `${datasetBase(w, name)}/uploads`,
  upload: (w: string, name: string, id: string) => uploadBase(w, name, id),
  uploadComplete: (w: string, name: string, id: string) => `${uploadBase(w, name, id)}/complete`,
  uploadPart: (w: string, name: string, id: string, n: number) => `${uploadBase(w, name, id)}/parts/${enc(n)}`,

  secrets: (w: string, params: Record<string, QueryValue> = {}) => `${wsBase(w)}/secrets${query(params)}`,
  secret: (w: string, verb: SecretVerb, path: string, params: Record<string, QueryValue> = {}) =>
    `${wsBase(w)}/secrets/${verb}/${encPath(path)}${query(params)}`,

  auditEvents: (w: string, f: AuditFilters) => `${wsBase(w)}/audit/events${query({ ...f })}`,
  auditExport: (w: string, filters: AuditFilters, format: 'csv' | 'jsonl') =>
    `${wsBase(w)}/audit/events${query({ ...filters, format })}`,
  auditVerify: (w: string) => `${wsBase(w)}/audit/verify`,
  /** The whole filtered range as one file (`audit-events-<ws>.jsonl` / `.csv`), streamed by the server. */
  auditFullExport: (w: string, filters: Omit<AuditFilters, 'cursor' | 'limit'>, format: 'csv' | 'jsonl') =>
    `${wsBase(w)}/audit/export${query({ ...filters, format })}`,
  defaultDrive: (w: string) => `${wsBase(w)}/default-drive`,
  driveUsage: (w: string, name: string) => `${driveBase(w, name)}/usage`,
  driveHealth: (w: string, name: string) => `${driveBase(w, name)}/health`,
  driveCredentials: (w: string, name: string) => `${driveBase(w, name)}/credentials`,
  secretsDue: (w: string, withinDays: number) => `${wsBase(w)}/secrets-due${query({ withinDays })}`,
};

/** The body of `POST …/datasets/:name/uploads` (a resumable upload session). */
export interface UploadSessionInput {
  size: number;
  sha256?: string;
  /** Plaintext bytes per part (a multiple of 64 KiB); default: the server's. */
  partSize?: number;
  drive?: string;
  filename?: string;
  mediaType?: string;
  description?: string;
  tags?: string[];
}

type SecretWrite = { path: string; version: number; created: boolean; pruned: number[] };

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
      list: (w: string) => t.request<{ drives: Drive[] }>('GET', p.drives(w)),
      get: (w: string, name: string) => t.request<Drive>('GET', p.drive(w, name)),
      test: (w: string, input: DriveInput) => t.request<Diagnosis>('POST', p.drivesTest(w), input),
      add: (w: string, input: DriveInput) =>
        t.request<{ drive: Drive; diagnosis: Diagnosis }>('POST', p.drives(w), input),
      retest: (w: string, name: string) => t.request<Diagnosis>('POST', p.driveTest(w, name)),
      remove: (w: string, name: string) =>
        t.request<{ name: string; removed: true; credentialsDestroyed: boolean }>('DELETE', p.drive(w, name)),
      /** Owners and admins: where new datasets go when no drive is named. */
      setDefault: (w: string, drive: string) =>
        t.request<{ defaultDrive: string; previous: string | null }>('PUT', p.defaultDrive(w), { drive }),
      usage: (w: string, name: string) => t.request<DriveUsage>('GET', p.driveUsage(w, name)),
      health: (w: string, name: string) => t.request<{ checks: DriveCheck[] }>('GET', p.driveHealth(w, name)),
      /** New credentials, tested before they replace the old ones (needs a recent sign-in). */
      rotateCredentials: (w: string, name: string, credentials: Record<string, unknown>) =>
        t.request<{ drive: Drive; diagnosis: Diagnosis }>('PUT', p.driveCredentials(w, name), { credentials }),
    },
    datasets: {
      /** One page (default 100, at most 1000); pass `next` back as `after` for the following one. */
      list: (w: string, f: { search?: string; tag?: string; after?: string; limit?: number } = {}) =>
        t.request<{ datasets: DatasetSummary[]; next: string | null }>('GET', p.datasets(w, f)),
      get: (w: string, name: string) => t.request<DatasetDetail>('GET', p.dataset(w, name)),
      version: (w: string, name: string, v: number) => t.request<DatasetVersion>('GET', p.datasetVersion(w, name, v)),
      /** The profile of a tabular version, computed through the caller's view (issue 18). */
      profile: (w: string, name: string, v: number) =>
        t.request<DatasetProfile>('GET', `${p.datasetVersion(w, name, v)}/profile`),
      deleteVersion: (w: string, name: string, v: number) =>
        t.request<{ dataset: string; deleted: number[] }>('DELETE', p.datasetVersion(w, name, v)),
      remove: (w: string, name: string) =>
        t.request<{ dataset: string; deleted: number[] }>('DELETE', p.dataset(w, name)),
      /** Description and/or tags (removing a tag needs the right to read the dataset under its current tags). */
      update: (w: string, name: string, body: { description?: string; tags?: string[] }) =>
        t.request<Omit<DatasetDetail, 'versions'>>('PATCH', p.dataset(w, name), body),
    },
    /** Governed reads: preview, SQL (JSON answer; files stream through `paths.query`), saved results. */
    query: {
      preview: (w: string, name: string, v: number, params: { limit?: number; offset?: number } = {}) =>
        t.request<DatasetPreview>('GET', p.datasetPreview(w, name, v, params)),
      run: (w: string, body: { sql: string; limit?: number }) =>
        t.request<QueryResult>('POST', p.query(w), { ...body, format: 'json' }),
      saveAs: (w: string, name: string, body: SaveQueryInput) =>
        t.request<SavedQueryResult>('POST', p.datasetFromQuery(w, name), body),
    },
    uploads: {
      create: (w: string, name: string, body: UploadSessionInput) =>
        t.request<UploadSession>('POST', p.uploads(w, name), body),
      status: (w: string, name: string, id: string) => t.request<UploadSession>('GET', p.upload(w, name, id)),
      complete: (w: string, name: string, id: string) =>
        t.request<{ dataset: string; version: DatasetVersion }>('POST', p.uploadComplete(w, name, id)),
      cancel: (w: string, name: string, id: string) => t.request<void>('DELETE', p.upload(w, name, id)),
    },
    secrets: {
      /** One page of up to 1000; pass `next` back as `after` for the following one. */
      list: (w: string, prefix = '', after?: string) =>
        t.request<{ secrets: SecretSummary[]; next: string | null }>(
          'GET',
          p.secrets(w, { prefix, limit: 1000, after }),
        ),
      metadata: (w: string, path: string) => t.request<SecretMetadata>('GET', p.secret(w, 'metadata', path)),
      write: (
        w: string,
        path: string,
        body: { type: SecretType; value: Record<string, unknown>; cas?: number; metadata?: SecretMetadataInput },
      ) => t.request<SecretWrite>('PUT', p.secret(w, 'data', path), body),
      updateMetadata: (w: string, path: string, body: SecretMetadataInput) =>
        t.request<{ path: string; pruned: number[] }>('PATCH', p.secret(w, 'metadata', path), body),
      reveal: (w: string, path: string, version?: number) =>
        t.request<RevealedSecret>('POST', p.secret(w, 'reveal', path, { version })),
      delete: (w: string, path: string, versions?: number[]) =>
        t.request<{ path: string; versions: number[] }>(
          'POST',
          p.secret(w, 'delete', path),
          versions ? { versions } : {},
        ),
      undelete: (w: string, path: string, versions: number[]) =>
        t.request<{ path: string; versions: number[] }>('POST', p.secret(w, 'undelete', path), { versions }),
      destroy: (w: string, path: string, versions: number[]) =>
        t.request<{ path: string; versions: number[] }>('POST', p.secret(w, 'destroy', path), { versions }),
      destroyAll: (w: string, path: string) =>
        t.request<{ path: string; destroyed: true; versions: number }>('DELETE', p.secret(w, 'metadata', path)),
      /** Secrets expired or due (rotation, expiry, certificate end) now or within `withinDays`. */
      due: (w: string, withinDays = 0) => t.request<{ secrets: SecretDue[] }>('GET', p.secretsDue(w, withinDays)),
      /** A new version holding the value of version `version` (check-and-set with `cas`). */
      rollback: (w: string, path: string, version: number, cas?: number) =>
        t.request<SecretWrite>('POST', p.secret(w, 'rollback', path), {
          version,
          ...(cas !== undefined ? { cas } : {}),
        }),
    },
    audit: {
      events: (w: string, f: AuditFilters) =>
        t.request<{ events: AuditEvent[]; nextCursor: string | null }>('GET', p.auditEvents(w, f)),
      verify: (w: string) => t.request<AuditVerifyReport>('GET', p.auditVerify(w)),
    },
    /** The installation-wide audit trail (operator credential). */
    auditTrail: {
      events: (f: AuditFilters) =>
        t.request<{ events: AuditEvent[]; nextCursor: string | null }>('GET', p.auditTrailEvents(f)),
      verify: () => t.request<AuditVerifyReport>('GET', p.auditTrailVerify()),
    },
    users: {
      list: (w: string) => t.request<{ users: WorkspaceUser[] }>('GET', p.users(w)),
      create: (w: string, body: { email: string; displayName: string; password?: string; role: string }) =>
        t.request<{ user: WorkspaceUser }>('POST', p.users(w), body),
      disable: (w: string, id: string) => t.request<{ disabled: true }>('POST', p.userDisable(w, id)),
      setRoles: (w: string, id: string, roles: string[]) =>
        t.request<{ roles: string[] }>('PUT', p.userRoles(w, id), { roles }),
      enable: (w: string, id: string) => t.request<{ enabled: true }>('POST', p.userEnable(w, id)),
      setAttributes: (w: string, id: string, attributes: UserAttributes) =>
        t.request<{ attributes: UserAttributes }>('PUT', p.userAttributes(w, id), { attributes }),
      /** Another member's MFA removed (re-authentication needed); their sessions end. */
      resetMfa: (w: string, id: string) =>
        t.request<{ reset: true; sessionsEnded: number }>('POST', p.userMfaReset(w, id)),
      /** Names and emails of the workspace's members (any role of it). */
      members: (w: string) => t.request<{ members: Member[] }>('GET', p.members(w)),
    },
    policies: {
      builtin: (w: string) => t.request<{ rules: BuiltinRule[] }>('GET', p.builtinRules(w)),
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
    /** Background task runs and their logs (operator credential). */
    tasks: {
      list: (kind?: string, limit = 50) =>
        t.request<{ tasks: TaskRunInfo[] }>('GET', `${API}/tasks${query({ kind, limit })}`),
      get: (id: string) => t.request<TaskRunInfo>('GET', `${API}/tasks/${enc(id)}`),
      log: (id: string) =>
        t.request<{ id: string; entries: Record<string, unknown>[] }>('GET', `${API}/tasks/${enc(id)}/log`),
    },
    /** Security posture: no workspace = the installation (operator credential). */
    posture: {
      latest: (w?: string) => t.request<PostureReport>('GET', p.posture(w)),
      run: (w?: string) => t.request<PostureReport>('POST', `${p.posture(w)}/run`),
      history: (w?: string, control?: string, limit = 100) =>
        t.request<{ results: PostureHistoryItem[] }>('GET', `${p.posture(w)}/history${query({ control, limit })}`),
      evidence: (w?: string) => t.request<EvidenceBundle>('POST', `${p.posture(w)}/evidence`),
    },
    /** Key management (operator credential). */
    keys: {
      status: () => t.request<KeysStatus>('GET', p.keysStatus()),
      rotate: () => t.request<{ activeTerm: number }>('POST', p.keysRotate()),
      rewrap: () => t.request<RewrapStarted>('POST', p.keysRewrap()),
      retireTerm: (term: number) => t.request<{ retired: number }>('POST', p.keyTermRetire(term)),
      rotateRoot: () => t.request<{ rotated: true }>('POST', p.keysRotateRoot()),
      /** Every data key of a workspace, unwrapped: as sensitive as the data itself. */
      exportWorkspace: (w: string) => t.request<KeyExport>('POST', p.workspaceKeyExport(w)),
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
      exportRecoveryShares: (shares: number, threshold: number) =>
        t.request<{ shares: string[]; threshold: number }>('POST', `${p.backups()}/recovery-key/shares`, {
          shares,
          threshold,
        }),
      targets: () => t.request<Record<string, unknown>>('GET', `${p.backups()}/targets`),
      addTarget: (body: { name: string; workspace: string; drive: string; prefix?: string }) =>
        t.request<{ name: string }>('POST', `${p.backups()}/targets`, body),
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
      settings: (w: string) => t.request<SsoWorkspaceSettings>('GET', p.ssoSettings(w)),
      setMappings: (w: string, provider: string, mappings: { group: string; role: string }[]) =>
        t.request<{ mappings: SsoWorkspaceSettings['mappings'] }>('PUT', p.ssoMappings(w, provider), { mappings }),
      setEnforcement: (w: string, enforce: boolean) =>
        t.request<{ enforce: boolean }>('PUT', p.ssoEnforcement(w), { enforce }),
    },
    /** Retention, legal holds, termination and a person's rights (operator). */
    retention: {
      show: () => t.request<Record<string, unknown>>('GET', `${API}/retention`),
      set: (classes: Record<string, number>) => t.request<Record<string, unknown>>('PUT', `${API}/retention`, classes),
      purge: () => t.request<Record<string, unknown>>('POST', `${API}/retention/purge`),
      holds: (all = false) => t.request<{ holds: unknown[] }>('GET', `${API}/holds${all ? '?all=true' : ''}`),
      addHold: (body: { scope: string; target: string; workspace?: string; reason: string }) =>
        t.request<{ id: string }>('POST', `${API}/holds`, body),
      releaseHold: (id: string) => t.request<{ released: string }>('DELETE', `${API}/holds/${encodeURIComponent(id)}`),
      exportUser: (id: string) =>
        t.request<Record<string, unknown>>('GET', `${API}/retention/users/${encodeURIComponent(id)}/export`),
      eraseUser: (id: string) =>
        t.request<Record<string, unknown>>('POST', `${API}/retention/users/${encodeURIComponent(id)}/erase`),
      terminate: (workspace: string) =>
        t.request<Record<string, unknown>>('POST', `${API}/retention/terminations`, { workspace }),
      cancelTermination: (ws: string) =>
        t.request<Record<string, unknown>>('DELETE', `${API}/retention/terminations/${encodeURIComponent(ws)}`),
    },
  };
}

export type Api = ReturnType<typeof createApi>;
