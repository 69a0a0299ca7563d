/**
 * Strongroom's API as typed functions over any JSON transport: the CLI's HTTPS client
 * (`http-client.ts`) and the console's `fetch` both implement `JsonTransport`. Nothing here
 * touches Node or the DOM, so both sides import it.
 *
 * Paths are built here, once; every dynamic segment is URI-encoded (secret paths keep their `/`).
 */
import type {
  ApiTokenInfo, AuditEvent, AuditFilters, AuditVerifyReport, DatasetDetail, DatasetSummary, DatasetVersion, Diagnosis, Drive, DriveInput,
  MeInfo, RevealedSecret, SecretMetadata, SecretMetadataInput, SecretSummary, SecretType, SessionInfo, UploadSession, WorkspaceUser,
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
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

const enc = encodeURIComponent;
const encPath = (p: string) => p.split('/').map(enc).join('/');

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const paths = {
  ws: (w: string) => `/api/v1/workspaces/${enc(w)}`,
  datasetContent: (w: string, name: string, v: number) => `/api/v1/workspaces/${enc(w)}/datasets/${enc(name)}/versions/${v}/content`,
  datasetVersions: (w: string, name: string, params: Record<string, string | number | undefined> = {}) => `/api/v1/workspaces/${enc(w)}/datasets/${enc(name)}/versions${query(params)}`,
  uploads: (w: string, name: string) => `/api/v1/workspaces/${enc(w)}/datasets/${enc(name)}/uploads`,
  uploadPart: (w: string, name: string, id: string, n: number) => `/api/v1/workspaces/${enc(w)}/datasets/${enc(name)}/uploads/${enc(id)}/parts/${n}`,
  auditExport: (w: string, filters: AuditFilters, format: 'csv' | 'jsonl') => `/api/v1/workspaces/${enc(w)}/audit/events${query({ ...filters, format })}`,
};

export function createApi(t: JsonTransport) {
  const ws = paths.ws;
  return {
    auth: {
      me: () => t.request<MeInfo>('GET', '/api/v1/auth/me'),
      login: (email: string, password: string) => t.request<SessionInfo>('POST', '/api/v1/auth/login', { email, password }),
      mfa: (code: string) => t.request<SessionInfo>('POST', '/api/v1/auth/mfa', { code }),
      logout: () => t.request<{ signedOut: true }>('POST', '/api/v1/auth/logout'),
      reauth: (password: string, code?: string) => t.request<{ reauthenticated: true; validForSeconds: number }>('POST', '/api/v1/auth/reauth', { password, ...(code ? { code } : {}) }),
      mfaEnrol: () => t.request<{ secret: string; otpauthUri: string }>('POST', '/api/v1/auth/mfa/enrol'),
      mfaEnrolVerify: (code: string) => t.request<{ recoveryCodes: string[]; csrfToken?: string }>('POST', '/api/v1/auth/mfa/enrol/verify', { code }),
    },
    drives: {
      list: (w: string) => t.request<{ drives: Drive[] }>('GET', `${ws(w)}/drives`),
      get: (w: string, name: string) => t.request<Drive>('GET', `${ws(w)}/drives/${enc(name)}`),
      test: (w: string, input: DriveInput) => t.request<Diagnosis>('POST', `${ws(w)}/drives/test`, input),
      add: (w: string, input: DriveInput) => t.request<{ drive: Drive; diagnosis: Diagnosis }>('POST', `${ws(w)}/drives`, input),
      retest: (w: string, name: string) => t.request<Diagnosis>('POST', `${ws(w)}/drives/${enc(name)}/test`),
      remove: (w: string, name: string) => t.request<{ name: string; removed: true; credentialsDestroyed: boolean }>('DELETE', `${ws(w)}/drives/${enc(name)}`),
    },
    datasets: {
      list: (w: string, f: { search?: string; tag?: string } = {}) => t.request<{ datasets: DatasetSummary[]; next: string | null }>('GET', `${ws(w)}/datasets${query(f)}`),
      get: (w: string, name: string) => t.request<DatasetDetail>('GET', `${ws(w)}/datasets/${enc(name)}`),
      deleteVersion: (w: string, name: string, v: number) => t.request<{ dataset: string; deleted: number[] }>('DELETE', `${ws(w)}/datasets/${enc(name)}/versions/${v}`),
      remove: (w: string, name: string) => t.request<{ dataset: string; deleted: number[] }>('DELETE', `${ws(w)}/datasets/${enc(name)}`),
    },
    uploads: {
      create: (w: string, name: string, body: { size: number; sha256?: string; drive?: string; filename?: string; mediaType?: string; description?: string; tags?: string[] }) =>
        t.request<UploadSession>('POST', paths.uploads(w, name), body),
      status: (w: string, name: string, id: string) => t.request<UploadSession>('GET', `${paths.uploads(w, name)}/${enc(id)}`),
      complete: (w: string, name: string, id: string) => t.request<{ dataset: string; version: DatasetVersion }>('POST', `${paths.uploads(w, name)}/${enc(id)}/complete`),
      cancel: (w: string, name: string, id: string) => t.request<void>('DELETE', `${paths.uploads(w, name)}/${enc(id)}`),
    },
    secrets: {
      list: (w: string, prefix = '') => t.request<{ secrets: SecretSummary[]; next: string | null }>('GET', `${ws(w)}/secrets${query({ prefix, limit: 1000 })}`),
      metadata: (w: string, path: string) => t.request<SecretMetadata>('GET', `${ws(w)}/secrets/metadata/${encPath(path)}`),
      write: (w: string, path: string, body: { type: SecretType; value: Record<string, unknown>; cas?: number; metadata?: SecretMetadataInput }) =>
        t.request<{ path: string; version: number; created: boolean; pruned: number[] }>('PUT', `${ws(w)}/secrets/data/${encPath(path)}`, body),
      updateMetadata: (w: string, path: string, body: SecretMetadataInput) => t.request<{ path: string; pruned: number[] }>('PATCH', `${ws(w)}/secrets/metadata/${encPath(path)}`, body),
      reveal: (w: string, path: string, version?: number) => t.request<RevealedSecret>('POST', `${ws(w)}/secrets/reveal/${encPath(path)}${query({ version })}`),
      delete: (w: string, path: string, versions?: number[]) => t.request<{ path: string; versions: number[] }>('POST', `${ws(w)}/secrets/delete/${encPath(path)}`, versions ? { versions } : {}),
      undelete: (w: string, path: string, versions: number[]) => t.request<{ path: string; versions: number[] }>('POST', `${ws(w)}/secrets/undelete/${encPath(path)}`, { versions }),
      destroy: (w: string, path: string, versions: number[]) => t.request<{ path: string; versions: number[] }>('POST', `${ws(w)}/secrets/destroy/${encPath(path)}`, { versions }),
      destroyAll: (w: string, path: string) => t.request<{ path: string; destroyed: true; versions: number }>('DELETE', `${ws(w)}/secrets/metadata/${encPath(path)}`),
    },
    audit: {
      events: (w: string, f: AuditFilters) => t.request<{ events: AuditEvent[]; nextCursor: string | null }>('GET', `${ws(w)}/audit/events${query({ ...f })}`),
      verify: (w: string) => t.request<AuditVerifyReport>('GET', `${ws(w)}/audit/verify`),
    },
    users: {
      list: (w: string) => t.request<{ users: WorkspaceUser[] }>('GET', `${ws(w)}/users`),
      create: (w: string, body: { email: string; displayName: string; password?: string; role: string }) => t.request<{ user: WorkspaceUser }>('POST', `${ws(w)}/users`, body),
      disable: (w: string, id: string) => t.request<{ disabled: true }>('POST', `${ws(w)}/users/${enc(id)}/disable`),
      setRoles: (w: string, id: string, roles: string[]) => t.request<{ roles: string[] }>('PUT', `${ws(w)}/users/${enc(id)}/roles`, { roles }),
    },
    tokens: {
      list: () => t.request<{ tokens: ApiTokenInfo[] }>('GET', '/api/v1/tokens'),
      create: (body: { name: string; scopes: string[]; expiresInDays: number; workspace: string }) => t.request<{ token: string; info: ApiTokenInfo }>('POST', '/api/v1/tokens', body),
      revoke: (id: string) => t.request<{ revoked: true }>('DELETE', `/api/v1/tokens/${enc(id)}`),
    },
  };
}

export type Api = ReturnType<typeof createApi>;
