/**
 * The shapes the API answers with, as clients see them (JSON: dates are ISO strings). They mirror
 * the servers' response schemas; the console and the CLI both read them. No runtime code here.
 */

export interface WorkspaceMembership {
  id: string;
  name: string;
  roles: string[];
}

export interface UserInfo {
  id: string;
  email: string;
  displayName: string;
  status: string;
  mfaEnabled: boolean;
  attributes: Record<string, string | number | boolean>;
}

export interface SessionInfo {
  user: UserInfo;
  csrfToken?: string;
  strength: string;
  mfaRequired: boolean;
  mfaEnrolmentRequired: boolean;
}

export interface MeInfo extends SessionInfo {
  workspaces: WorkspaceMembership[];
  /** Unused recovery codes; null without MFA. */
  recoveryCodesLeft: number | null;
}

/** One of your live sessions (named by a prefix of its id's hash, never the id). */
export interface SessionView {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  authenticatedAt: string;
  strength: string;
  sourceIp: string | null;
  current: boolean;
}

/** A member of a workspace as any member sees them: enough to put a name on an id. */
export interface Member {
  id: string;
  email: string;
  displayName: string;
}

/** The attributes the built-in tag rules read. */
export interface UserAttributes {
  department?: string;
  region?: string;
  clearance?: number;
}

/** A built-in Cedar policy, read-only: its id, effect, plain-words summary and text. */
export interface BuiltinRule {
  id: string;
  effect: 'permit' | 'forbid';
  file: string;
  summary: string;
  text: string;
}

export type DriveKind = 'local' | 's3' | 'azure' | 'gcs';

export interface DiagnosisStep {
  id: string;
  title: string;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  reason: string;
  hint?: string;
  ms?: number;
}

export interface Diagnosis {
  ok: boolean;
  code?: string;
  steps: DiagnosisStep[];
  latencyMs?: number;
  corsSuggestion?: unknown;
  checkedAt: string;
}

export interface Drive {
  name: string;
  kind: DriveKind;
  description: string;
  config: Record<string, unknown>;
  credentialSecret: string | null;
  isDefault: boolean;
  status: 'unknown' | 'healthy' | 'failing';
  statusCode: string | null;
  statusCheckedAt: string | null;
  lastTest: Diagnosis | null;
  createdBy: string;
  createdAt: string;
}

/** What the wizard sends to test or add a drive (see docs/drives.md for each kind). */
export interface DriveInput {
  name: string;
  kind: DriveKind;
  description?: string;
  config: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  credentialSecret?: string;
}

export interface DatasetSummary {
  name: string;
  description: string;
  tags: string[];
  owner: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  latestVersion: number | null;
  versions: number;
  bytes: number;
}

export interface DatasetVersion {
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

export interface DatasetDetail extends Omit<DatasetSummary, 'latestVersion' | 'versions' | 'bytes'> {
  versions: DatasetVersion[];
}

/** A resumable upload session (POST …/datasets/:name/uploads). */
export interface UploadSession {
  id: string;
  dataset: string;
  version: number;
  drive: string;
  size: number;
  partSize: number;
  partCount: number;
  received: number[];
  expiresAt: string;
}

export type SecretType = 'password' | 'api-key' | 'cloud-credential' | 'certificate' | 'generic';

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

export interface SecretVersion {
  version: number;
  state: 'live' | 'deleted' | 'destroyed';
  createdAt: string;
  createdBy: string;
  deletedAt: string | null;
  deletedBy: string | null;
  destroyedAt: string | null;
  destroyedBy: string | null;
  certificate?: { notAfter: string; subject: string; fingerprint256: string };
}

export interface SecretMetadata extends SecretSummary {
  custom: Record<string, string>;
  maxVersions: number;
  casRequired: boolean;
  createdAt: string;
  createdBy: string;
  versions: SecretVersion[];
}

export interface SecretMetadataInput {
  description?: string;
  tags?: string[];
  owner?: string | null;
  custom?: Record<string, string>;
  maxVersions?: number;
  expiresAt?: string | null;
  rotateEvery?: string | null;
}

export interface RevealedSecret {
  path: string;
  version: number;
  type: SecretType;
  value: Record<string, unknown>;
  createdAt: string;
}

export interface AuditEvent {
  seq: number;
  time: string;
  actor: { id: string; kind: string; authMethod?: string };
  action: string;
  resource: { type: string; id?: string; workspace?: string };
  outcome: 'success' | 'failure' | 'denied';
  requestId?: string;
  sourceIp?: string;
  userAgent?: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditFilters {
  actor?: string;
  action?: string;
  resource?: string;
  outcome?: 'success' | 'failure' | 'denied';
  from?: string;
  to?: string;
  /** 'true': leave out reads (`….read`, `….list`). */
  hideReads?: 'true' | 'false';
  cursor?: string;
  order?: 'asc' | 'desc';
  limit?: number;
}

export interface AuditVerifyReport {
  ok: boolean;
  eventsChecked: number;
  headSeq: number;
  headHash: string;
  problems: { kind: string; seq?: number; detail: string }[];
  problemsOmitted: number;
  checkedAt: string;
}

export interface WorkspaceUser extends UserInfo {
  roles: string[];
  /** When they last finished signing in; null: never. */
  lastSignInAt: string | null;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  workspace: string;
  scopes: string[];
  userId: string | null;
  serviceAccountId: string | null;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** `GET /sys/seal-status`: public, answered while sealed too. */
export interface SealStatus {
  state: 'uninitialized' | 'sealed' | 'unsealed';
  sealed: boolean;
  provider: string;
  /** Shamir only: shares needed and shares issued. */
  threshold?: number;
  shares?: number;
}

/** `POST /sys/unseal`: how far the Shamir shares submitted so far go. */
export interface UnsealProgress {
  sealed: boolean;
  progress: number;
  threshold: number;
}

export interface KeyTermStatus {
  term: number;
  createdAt: string;
  retiredAt?: string;
  active: boolean;
  /** Sealed values this term still protects (0 → it may be retired). */
  sealedValues: number;
}

/** `GET /keys/status`: seal state, key terms and the progress of a rewrap. */
export interface KeysStatus {
  state: 'uninitialized' | 'sealed' | 'unsealed';
  provider: string;
  activeTerm?: number;
  terms: KeyTermStatus[];
  rewrap: { running: boolean; rewrapped: number; remaining?: number; lastError?: string };
}

/** `POST /keys/rewrap` (202): the background task that moves every value to the active term. */
export interface RewrapStarted {
  started: true;
  taskId: string;
  taskLog: string;
  /** Where to follow its progress. */
  status: string;
}

/** One dataset version's unwrapped data key in a key export. */
export interface KeyExportEntry {
  dataset: string;
  version: number;
  drive: string;
  objectKey: string;
  objectId: string;
  /** The raw 32-byte data key, base64. */
  dataKey: string;
  keyTerm: number;
  size: number;
  sha256: string;
}

/** `POST /keys/workspaces/:ws/export`: every data key of a workspace, unwrapped (see `strongroom decrypt`). */
export interface KeyExport {
  format: 'strongroom-key-export';
  formatVersion: 1;
  workspaceId: string;
  exportedAt: string;
  objects: KeyExportEntry[];
}

export const ROLE_NAMES = ['owner', 'admin', 'steward', 'engineer', 'analyst', 'viewer', 'auditor'] as const;

/** What a drive holds (committed versions, their bytes, the datasets with versions on it). */
export interface DriveUsage {
  versions: number;
  bytes: number;
  datasets: string[];
}

/** One recorded test of a drive (on add, re-test and the periodic health check). */
export interface DriveCheck {
  checkedAt: string;
  ok: boolean;
  code: string | null;
  failedStep: string | null;
  latencyMs: number | null;
}

/** A secret whose expiry, rotation or certificate is due (`GET …/secrets-due`). */
export interface SecretDue {
  path: string;
  type: string;
  owner: string | null;
  tags: string[];
  currentVersion: number;
  reasons: string[];
  expiresAt: string | null;
  rotationDueAt: string | null;
  certificateNotAfter: string | null;
}

/** One security control's latest result (`GET /posture`, `GET /workspaces/:ws/posture`). */
export interface PostureControl {
  id: string;
  title: string;
  promise: string;
  method: string;
  remedy: string;
  scope: 'installation' | 'workspace';
  source: string;
  frameworks: { soc2?: string[]; iso27001?: string[]; pciDss?: string[]; gdpr?: string[] };
  status: 'pass' | 'warn' | 'fail';
  summary: string;
  evidence: Record<string, string | number | boolean | null | (string | number)[]>;
  checkedAt: string;
}

export interface PostureReport {
  runId: string;
  scope: string;
  checkedAt: string;
  counts: { pass: number; warn: number; fail: number };
  controls: PostureControl[];
}

export interface PostureHistoryItem {
  runId: string;
  controlId: string;
  status: 'pass' | 'warn' | 'fail';
  summary: string;
  checkedAt: string;
}

/** A signed evidence pack, its HTML rendering and the audit public key to verify it with. */
export interface EvidenceBundle {
  pack: { format: string; generatedAt: string; signature: { alg: string; keyId: string; value: string } } & Record<
    string,
    unknown
  >;
  html: string;
  publicKeyPem: string;
}

/** A background task run (`GET /tasks`); its log is read with `GET /tasks/:id/log`. */
export interface TaskRunInfo {
  id: string;
  kind: string;
  status: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  updatedAt: string;
  progress: Record<string, unknown>;
  entries: number;
  drive: string;
  objectKey: string | null;
}

/** A column of a governed read: its name and DuckDB type (`BIGINT`, `VARCHAR`, `DATE`, …). */
export interface ResultColumn {
  name: string;
  type: string;
  nullable?: boolean;
}

/**
 * `GET …/datasets/:name/versions/:v/preview`: the schema and the first rows. Values are JSON:
 * 64-bit integers and decimals travel as strings (exact), dates and times as ISO text.
 */
export interface DatasetPreview {
  dataset: string;
  version: number;
  format: string;
  columns: ResultColumn[];
  rows: unknown[][];
  /** Rows in the version, when known without reading it whole (null for a prefix-only preview). */
  rowCount: number | null;
  /** Plaintext bytes decrypted to answer. */
  decryptedBytes: number;
}

/** `POST …/query` with `format: 'json'`: typed columns and at most `limit` rows. */
export interface QueryResult {
  columns: ResultColumn[];
  rows: unknown[][];
  rowCount: number;
  /** More rows existed than the limit. */
  truncated: boolean;
}

export type ResultFileFormat = 'csv' | 'jsonl' | 'parquet';

/** `POST …/datasets/:name/versions/from-query`: a query result stored as the next version of `name`. */
export interface SaveQueryInput {
  sql: string;
  format?: ResultFileFormat;
  drive?: string;
  description?: string;
  tags?: string[];
}

export interface SavedQueryResult {
  dataset: string;
  version: DatasetVersion;
  /** Rows written. */
  rows: number;
  /** The datasets and versions the query read (`sales@v3`). */
  read: string[];
}

/** A single sign-on provider as the operator sees it (`GET /sso/providers/:id`); never its secret. */
export interface SsoProvider {
  id: string;
  kind: 'oidc' | 'saml';
  displayName: string;
  issuer: string;
  enabled: boolean;
  hasSecret: boolean;
  settings: Record<string, unknown>;
  lastError?: { message: string; at: string };
}

/** A provider as the sign-in page lists it. */
export interface SsoProviderSummary {
  id: string;
  kind: 'oidc' | 'saml';
  displayName: string;
}

/** A workspace's single sign-on settings (`GET /workspaces/:ws/sso`). */
export interface SsoWorkspaceSettings {
  enforce: boolean;
  /** The workspace's SCIM token, if any (never the token itself). */
  scim: { provider: string; createdAt: string; baseUrl: string } | null;
  mappings: { provider: string; group: string; role: string }[];
  providers: SsoProviderSummary[];
}

/** A column of a version's profile (issue 18): statistics, suggested sensitive-data tags. */
export interface ProfileColumn {
  name: string;
  type: string;
  kind: 'number' | 'temporal' | 'string' | 'boolean' | 'other';
  nonNull: number;
  nulls: number;
  nullRatio: number;
  distinct?: number;
  min?: string | number;
  max?: string | number;
  mean?: number;
  stddev?: number;
  quantiles?: { p25: number; p50: number; p75: number };
  length?: { min: number; max: number; mean: number };
  top?: { value: string; count: number }[];
  findings: { tag: string; confidence: number; hits: number; sampled: number; nameHint: boolean; status: string }[];
  suppressed?: 'fewer_than_k_values';
}

/** The profile of one tabular version as the caller sees it (values only where they may read rows). */
export interface DatasetProfile {
  dataset: string;
  version: number;
  format: string;
  rowCount: number;
  columnCount: number;
  columnsProfiled: number;
  k: number;
  valuesShown: boolean;
  columns: ProfileColumn[];
  quality: { emptyColumns: string[]; constantColumns: string[]; duplicateRows: number | null };
}
