/**
 * The API's shapes as TypeScript types, inferred from the contract schemas (never written twice).
 * `Answer<S>`: what a route answers (JSON: dates are ISO strings); `Body<S>` and `Query<S>`: what a
 * client sends (defaults may be left out). The typed client, the CLI and the console read these.
 */
import type { z } from 'zod';
import type * as audit from './audit.ts';
import type * as backups from './backups.ts';
import type * as access from './access.ts';
import type * as datasets from './datasets.ts';
import type * as drives from './drives.ts';
import type * as identity from './identity.ts';
import type * as keys from './keys.ts';
import type * as policies from './policies.ts';
import type * as posture from './posture.ts';
import type * as profiling from './profiling.ts';
import type * as query from './query.ts';
import type * as retention from './retention.ts';
import type * as sso from './sso.ts';
import type * as tasks from './tasks.ts';
import type * as vault from './vault.ts';

/** What a route answers, as a client receives it. */
export type Answer<S extends z.ZodType> = z.output<S>;
/** What a client sends as a body (fields with defaults may be left out). */
export type Body<S extends z.ZodType> = z.input<S>;
/** What a client sends as a query string (a coerced number may be given as a number). */
export type Query<S extends z.ZodType> = {
  [K in keyof z.input<S>]: unknown extends z.input<S>[K] ? number | string | undefined : z.input<S>[K];
};
type Item<A> = A extends readonly (infer T)[] ? T : never;

export { ROLES as ROLE_NAMES } from './identity.ts';

// identity
export type UserInfo = Answer<typeof identity.userInfoOut>;
export type SessionInfo = Answer<typeof identity.sessionInfoOut>;
export type WorkspaceMembership = Answer<typeof identity.membershipOut>;
export type MeInfo = Answer<typeof identity.meAnswer>;
export type SessionView = Answer<typeof identity.sessionViewOut>;
export type Member = Item<Answer<typeof identity.memberListAnswer>['members']>;
export type UserAttributes = Body<typeof identity.userAttributes>;
export type WorkspaceUser = Answer<typeof identity.workspaceUserOut>;
export type ApiTokenInfo = Answer<typeof identity.tokenOut>;
// access
export type BuiltinRule = Answer<typeof access.builtinRuleOut>;
export type NetworkAllowlistInfo = Answer<typeof access.networkAllowlistOut>;
// drives
export type DriveKind = drives.DriveKindName;
export type DiagnosisStep = Answer<typeof drives.stepOut>;
export type Diagnosis = Answer<typeof drives.diagnosisOut>;
export type Drive = Answer<typeof drives.driveOut>;
/**
 * What the wizard and the CLI send to test or add a drive: a draft the server checks against
 * `driveInputSchema` (its kind decides the config's shape; see docs/drives.md).
 */
export type DriveInput = Pick<Body<typeof drives.driveInputSchema>, 'name' | 'description'> & {
  kind: DriveKind;
  config: Record<string, unknown>;
  credentials?: Record<string, unknown>;
  credentialSecret?: string;
};
export type DriveUsage = Answer<typeof drives.driveUsageAnswer>;
export type DriveCheck = Item<Answer<typeof drives.driveHealthAnswer>['checks']>;
// datasets
export type DatasetSummary = Item<Answer<typeof datasets.datasetListAnswer>['datasets']>;
export type DatasetVersion = Answer<typeof datasets.versionOut>;
export type DatasetDetail = Answer<typeof datasets.datasetDetailOut>;
export type UploadSession = Answer<typeof datasets.sessionOut>;
export type UploadSessionInput = Body<typeof datasets.uploadSessionBody>;
// vault
export type SecretType = vault.SecretType;
export type SecretSummary = Answer<typeof vault.summaryOut>;
export type SecretVersion = Answer<typeof vault.versionOut>;
export type SecretMetadata = Answer<typeof vault.metadataOut>;
export type SecretMetadataInput = Body<typeof vault.metadataInputSchema>;
export type RevealedSecret = Answer<typeof vault.revealOut>;
export type SecretWrite = Answer<typeof vault.writeOut>;
export type SecretDue = Item<Answer<typeof vault.dueOut>['secrets']>;
// audit
export type AuditEvent = Answer<typeof audit.auditEventOut>;
export type AuditFilters = Omit<Query<typeof audit.eventsQuery>, 'format' | 'workspace'> & { limit?: number };
export type AuditVerifyReport = Answer<typeof audit.auditVerifyOut>;
// keys
export type SealStatus = Answer<typeof keys.sealStatusOut>;
export type UnsealProgress = Answer<typeof keys.unsealProgressOut>;
export type KeyTermStatus = Answer<typeof keys.keyTermOut>;
export type KeysStatus = Answer<typeof keys.keysStatusOut>;
export type RewrapStarted = Answer<typeof keys.rewrapStartedOut>;
export type KeyExportEntry = Answer<typeof keys.keyExportEntryOut>;
export type KeyExport = Answer<typeof keys.keyExportOut>;
export type WorkspaceKeyStatus = Answer<typeof keys.workspaceKeyStatusOut>;
export type WorkspaceKeyRotated = Answer<typeof keys.workspaceKeyRotatedOut>;
// posture
export type PostureControl = Answer<typeof posture.postureControlOut>;
export type PostureReport = Answer<typeof posture.postureReportOut>;
export type PostureHistoryItem = Answer<typeof posture.postureHistoryItemOut>;
export type EvidenceBundle = Answer<typeof posture.evidenceBundleOut>;
// tasks
export type TaskRunInfo = Answer<typeof tasks.taskRunOut>;
// query
export type ResultColumn = Answer<typeof query.resultColumnOut>;
export type DatasetPreview = Answer<typeof query.datasetPreviewOut>;
export type QueryResult = Answer<typeof query.queryResultOut>;
export type ResultFileFormat = Answer<typeof query.resultFileFormat>;
export type SaveQueryInput = Body<typeof query.saveBody>;
export type SavedQueryResult = Answer<typeof query.savedQueryAnswer>;
// sso
export type SsoProvider = Answer<typeof sso.providerOut>;
export type SsoProviderSummary = Answer<typeof sso.publicProviderOut>;
export type SsoWorkspaceSettings = Answer<typeof sso.ssoSettingsOut>;
// data policies
export type ReadWhy = Answer<typeof query.readWhyOut>;
export type DataPolicyDoc = Body<typeof policies.policyBody>;
export type DataPolicyMask = Body<typeof policies.maskSchema>;
export type DataPolicy = Answer<typeof policies.policyAnswer>;
export type DataPolicySaved = Answer<typeof policies.savedPolicyAnswer>;
export type AccessDiffRow = Answer<typeof policies.accessDiffRowOut>;
export type DataPolicyVersion = Item<Answer<typeof policies.policyHistoryAnswer>['versions']>;
export type ScimTokenIssued = Answer<typeof sso.scimTokenOut>;
export type SsoSignedIn = Answer<typeof sso.signedInOut>;
// profiling
export type ProfileColumn = Answer<typeof profiling.profileColumnOut>;
export type DatasetProfile = Answer<typeof profiling.datasetProfileOut>;
export type ColumnTag = Answer<typeof profiling.columnTagOut>;
export type ProfileDrift = Answer<typeof profiling.profileDriftOut>;
export type ColumnTagsAnswer = Answer<typeof profiling.columnTagsAnswer>;
export type ColumnTagsBody = Body<typeof profiling.columnTagsBody>;
export type RecomputeAnswer = Answer<typeof profiling.recomputeAnswer>;
export type PublishProfileBody = Body<typeof profiling.publishBody>;
export type PublishProfileAnswer = Answer<typeof profiling.publishAnswer>;

// backups
export type RecoverySharesInput = Body<typeof backups.sharesBody>;
export type RecoveryShares = Answer<typeof backups.recoverySharesAnswer>;
export type BackupTargetInput = Body<typeof backups.targetBody>;
export type BackupTargetPatch = Body<typeof backups.targetPatchBody>;
export type BackupTargetPatched = Answer<typeof backups.targetPatchAnswer>;
export type RestoreObjectsInput = Body<typeof backups.restoreObjectsBody>;
export type RestoreObjectsAnswer = Answer<typeof backups.restoreObjectsAnswer>;

// retention
export type RetentionPreview = Answer<typeof retention.retentionPreviewOut>;
