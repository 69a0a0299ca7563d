/**
 * Starting and finishing a single sign-on, up to "who is this" (`Asserted`). What happens to the
 * account is `sso.accounts.ts`.
 *
 * - A start stores a pending sign-in keyed by SHA-256(state): the OIDC nonce, the PKCE verifier
 *   (barrier-sealed), the SAML request id, where to go after, and the user linking (if any). The
 *   browser gets the state in a cookie too; the answer must come back to the same browser.
 * - OIDC: the pending row is claimed (used once) before the code is exchanged, so a replayed
 *   callback never reaches the token endpoint twice.
 * - SAML: the response is checked against the pending request id first; then its assertion id
 *   goes into the replay cache (committed on its own); only then is the pending row claimed.
 */
import type { Kysely } from 'kysely';
import { createOidcClient, OidcRefusal, type OidcClient } from '../../adapters/idp/oidc.ts';
import { finishSaml, SamlRefusal, spMetadata, startSaml, type SamlSpSettings } from '../../adapters/idp/saml.ts';
import type { EgressGuard } from '../../adapters/net/egress-guard.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError, isAppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import { randomToken, safeEqual, sha256Hex } from '../identity/index.ts';
import { ClaimsRefusal, fromOidc, fromSaml, type Asserted } from './sso.claims.ts';
import { SsoRefusal } from './sso.errors.ts';
import type { OidcSettings, Provider, SamlSettings } from './sso.providers.ts';
import * as store from './sso.store.ts';

export const PENDING_TTL_MS = 10 * 60_000;
const SAML_CLOCK_SKEW_MS = 60_000;

export interface FlowDeps {
  db: Kysely<Database>;
  barrier: Pick<Barrier, 'seal' | 'open'>;
  guard: EgressGuard;
  /** Base URL of this installation as the IdP sees it (no trailing slash). */
  publicUrl: () => string;
  now: () => Date;
}

export const callbackPath = (id: string) => `/api/v1/auth/sso/${id}/oidc/callback`;
export const acsPath = (id: string) => `/api/v1/auth/sso/${id}/saml/acs`;
export const metadataPath = (id: string) => `/api/v1/auth/sso/${id}/saml/metadata`;

const verifierCtx = (stateHash: string) => ({
  table: 'sso_pending_logins',
  column: 'verifier_sealed',
  rowId: stateHash,
});
export const secretCtx = (id: string) => ({ table: 'sso_providers', column: 'secret_sealed', rowId: id });

export function spSettings(deps: Pick<FlowDeps, 'publicUrl'>, p: Provider): SamlSpSettings {
  const s = p.settings as SamlSettings;
  return {
    spEntityId: deps.publicUrl() + metadataPath(p.id),
    acsUrl: deps.publicUrl() + acsPath(p.id),
    idpEntityId: s.idpEntityId,
    idpSsoUrl: s.idpSsoUrl,
    idpCerts: s.idpCertPem,
    wantResponseSigned: !s.allowUnsignedResponse,
    wantAssertionsSigned: !s.allowUnsignedAssertion,
    clockSkewMs: SAML_CLOCK_SKEW_MS,
  };
}

export const metadataOf = (deps: Pick<FlowDeps, 'publicUrl'>, p: Provider) => spMetadata(spSettings(deps, p));

/** The IdP could not be used (discovery, JWKS, token endpoint): 502, or the guard's 422. */
function providerError(err: unknown): AppError {
  // openid-client wraps what the fetch threw: the guard's refusal is found down the cause chain.
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if (isAppError(e) && (e.code === 'EGRESS_DENIED' || e.code === 'SSO_REFUSED')) return e;
  return new AppError('SSO_PROVIDER_ERROR', {
    detail: 'The identity provider could not be reached or answered something unusable.',
    cause: err,
  });
}

type ClientCache = Map<string, { key: string; at: number; client: Promise<OidcClient> }>;
/** Discovered clients, per egress guard (so per running server), per provider. */
const caches = new WeakMap<object, ClientCache>();
const CLIENT_TTL_MS = 5 * 60_000;

async function oidcClient(deps: FlowDeps, p: Provider, secretSealed: Buffer | null): Promise<OidcClient> {
  const s = p.settings as OidcSettings;
  let clients = caches.get(deps.guard);
  if (!clients) caches.set(deps.guard, (clients = new Map()));
  const key = JSON.stringify([p.settings, secretSealed?.toString('base64') ?? '']);
  const hit = clients.get(p.id);
  if (hit && hit.key === key && Date.now() - hit.at < CLIENT_TTL_MS) return hit.client;
  const secret = secretSealed ? deps.barrier.open(secretSealed, secretCtx(p.id)).toString('utf8') : undefined;
  const client = createOidcClient(
    { issuer: s.issuer, clientId: s.clientId, clientSecret: secret, scopes: s.scopes, ca: s.caPem },
    { guard: deps.guard },
  );
  clients.set(p.id, { key, at: Date.now(), client });
  client.catch(() => clients.delete(p.id));
  return client;
}

/** Discovery through the guard, once, at save time (nothing kept). */
export async function probeOidc(deps: FlowDeps, p: Provider, secretSealed: Buffer | null): Promise<void> {
  forgetClient(deps, p.id);
  try {
    await oidcClient(deps, p, secretSealed);
  } catch (err) {
    throw providerError(err);
  } finally {
    forgetClient(deps, p.id);
  }
}

/** Forget a provider's cached discovery (after an update or delete). */
export const forgetClient = (deps: Pick<FlowDeps, 'guard'>, id: string) => void caches.get(deps.guard)?.delete(id);

export async function startFlow(
  deps: FlowDeps,
  p: Provider,
  secretSealed: Buffer | null,
  opts: { returnTo: string; linkUserId?: string | undefined; cliChallenge?: string | undefined },
): Promise<{ url: string; state: string }> {
  const expires = new Date(deps.now().getTime() + PENDING_TTL_MS);
  if (p.kind === 'oidc') {
    let started;
    try {
      started = await (await oidcClient(deps, p, secretSealed)).start(deps.publicUrl() + callbackPath(p.id));
    } catch (err) {
      throw providerError(err);
    }
    const stateHash = sha256Hex(started.state);
    await store.insertPending(
      deps.db,
      {
        stateHash,
        providerId: p.id,
        nonce: started.nonce,
        verifierSealed: deps.barrier.seal(Buffer.from(started.verifier, 'utf8'), verifierCtx(stateHash)),
        requestId: null,
        returnTo: opts.returnTo,
        linkUserId: opts.linkUserId ?? null,
        cliChallenge: opts.cliChallenge ?? null,
      },
      expires,
    );
    return { url: started.url, state: started.state };
  }
  const state = randomToken(32);
  const { url, requestId } = await startSaml(spSettings(deps, p), state);
  await store.insertPending(
    deps.db,
    {
      stateHash: sha256Hex(state),
      providerId: p.id,
      nonce: '',
      verifierSealed: null,
      requestId,
      returnTo: opts.returnTo,
      linkUserId: opts.linkUserId ?? null,
      cliChallenge: opts.cliChallenge ?? null,
    },
    expires,
  );
  return { url, state };
}

function sameBrowser(cookieState: string | undefined, state: string): void {
  if (!cookieState || !safeEqual(sha256Hex(cookieState), sha256Hex(state))) throw new SsoRefusal('browser-mismatch');
}

function claimsRefusal(err: unknown): never {
  if (err instanceof ClaimsRefusal) throw new SsoRefusal(err.reason, err);
  throw err;
}

export async function finishOidc(
  deps: FlowDeps,
  p: Provider,
  secretSealed: Buffer | null,
  callbackUrl: URL,
  cookieState: string | undefined,
): Promise<{ asserted: Asserted; pending: store.PendingLogin }> {
  const state = callbackUrl.searchParams.get('state');
  if (!state) throw new SsoRefusal('no-pending-login');
  sameBrowser(cookieState, state);
  const pending = await store.takePending(deps.db, sha256Hex(state), p.id, deps.now());
  if (!pending) throw new SsoRefusal('no-pending-login');
  if (callbackUrl.searchParams.has('error')) throw new SsoRefusal('idp-error');
  const verifier = deps.barrier.open(pending.verifierSealed!, verifierCtx(pending.stateHash)).toString('utf8');
  let claims;
  try {
    const client = await oidcClient(deps, p, secretSealed);
    claims = await client.finish(callbackUrl, { state, nonce: pending.nonce, verifier });
  } catch (err) {
    if (err instanceof OidcRefusal) throw new SsoRefusal(err.reason, err);
    throw providerError(err);
  }
  const s = p.settings;
  let asserted: Asserted;
  try {
    asserted = fromOidc(claims, { groupsClaim: s.groupsClaim, mfaValues: s.mfaValues });
  } catch (err) {
    return claimsRefusal(err);
  }
  if (asserted.issuer !== p.issuer) throw new SsoRefusal('issuer-mismatch');
  return { asserted, pending };
}

export async function finishSamlFlow(
  deps: FlowDeps,
  p: Provider,
  body: { SAMLResponse: string; RelayState?: string | undefined },
  cookieState: string | undefined,
): Promise<{ asserted: Asserted; pending: store.PendingLogin }> {
  const state = body.RelayState;
  if (!state) throw new SsoRefusal('unsolicited');
  sameBrowser(cookieState, state);
  const stateHash = sha256Hex(state);
  const seen = await deps.db
    .selectFrom('sso_pending_logins')
    .select('request_id')
    .where('state_hash', '=', stateHash)
    .where('provider_id', '=', p.id)
    .where('expires_at', '>', deps.now())
    .executeTakeFirst();
  if (!seen?.request_id) throw new SsoRefusal('no-pending-login');
  let result;
  try {
    result = await finishSaml(spSettings(deps, p), body.SAMLResponse, seen.request_id);
  } catch (err) {
    if (err instanceof SamlRefusal) throw new SsoRefusal(err.reason, err);
    throw err;
  }
  if (!(await store.rememberAssertion(deps.db, p.id, result.assertionId, result.notOnOrAfter, deps.now())))
    throw new SsoRefusal('replayed-assertion');
  const pending = await store.takePending(deps.db, stateHash, p.id, deps.now());
  if (!pending) throw new SsoRefusal('no-pending-login');
  const s = p.settings as SamlSettings & Provider['settings'];
  try {
    return {
      asserted: fromSaml(result, {
        groupsClaim: s.groupsClaim,
        emailAttribute: s.emailAttribute,
        mfaValues: s.mfaValues,
      }),
      pending,
    };
  } catch (err) {
    return claimsRefusal(err);
  }
}
