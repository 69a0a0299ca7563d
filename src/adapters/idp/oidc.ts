/**
 * OpenID Connect relying party over `openid-client` v6: discovery, the authorization request
 * (code flow, PKCE S256, `state`, `nonce`) and the callback (code exchange + ID token checks).
 *
 * Guarantees:
 * - Every request to the IdP (discovery, JWKS, token) goes through `guardedFetch` (egress guard,
 *   TLS verified, size-capped, no redirects); plain http is never allowed.
 * - The callback accepts only: the `state` given at start, a code exchanged with the PKCE verifier
 *   of that start, and an ID token signed by a key of the issuer's JWKS (no `alg: none`, no HMAC
 *   with a public key), issued by the configured issuer, for this client, not expired, carrying the
 *   `nonce` of that start. openid-client checks these; a failure is an `OidcRefusal` with a short
 *   reason of ours for the audit trail.
 */
import * as oidc from 'openid-client';
import { guardedFetch, type GuardedFetchOptions } from './guarded-fetch.ts';

export interface OidcProviderSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string | undefined;
  scopes: readonly string[];
  ca?: string | undefined;
}

export interface OidcStart {
  url: string;
  state: string;
  nonce: string;
  verifier: string;
}

export type OidcRefusalReason =
  | 'state-mismatch'
  | 'nonce-mismatch'
  | 'issuer-mismatch'
  | 'audience-mismatch'
  | 'token-expired'
  | 'bad-signature'
  | 'idp-error'
  | 'token-invalid';

export class OidcRefusal extends Error {
  constructor(
    readonly reason: OidcRefusalReason,
    options?: { cause?: unknown },
  ) {
    super(`OpenID Connect sign-in refused: ${reason}`, options);
    this.name = 'OidcRefusal';
  }
}

/** The validated claims of an ID token (plus `userinfo` when the IdP has one and it was asked). */
export type Claims = Record<string, unknown> & { iss: string; sub: string };

export interface OidcClient {
  start(redirectUri: string): Promise<OidcStart>;
  finish(callbackUrl: URL, expected: { state: string; nonce: string; verifier: string }): Promise<Claims>;
}

/** Our reason for an openid-client failure: from the claim it names, else its code and message. */
function reasonOf(err: unknown): OidcRefusalReason {
  const outer = err as { code?: string; message?: string; cause?: unknown };
  const inner = (outer.cause ?? outer) as { code?: string; message?: string; cause?: { claim?: string } };
  const claim = inner.cause?.claim;
  const msg = `${outer.code ?? ''} ${inner.code ?? ''} ${inner.message ?? ''}`.toLowerCase();
  if (claim === 'nonce' || msg.includes('"nonce"')) return 'nonce-mismatch';
  if (claim === 'iss') return 'issuer-mismatch';
  if (claim === 'aud' || claim === 'azp') return 'audience-mismatch';
  if (claim === 'exp' || claim === 'iat' || claim === 'nbf' || msg.includes('timestamp')) return 'token-expired';
  if (msg.includes('"alg"') || msg.includes('signature')) return 'bad-signature';
  if (msg.includes('state')) return 'state-mismatch';
  if (msg.includes('response_body_error') || msg.includes('authorization response')) return 'idp-error';
  return 'token-invalid';
}

/** Discovers the issuer (through the guard) and returns a client for it. */
export async function createOidcClient(
  settings: OidcProviderSettings,
  fetchOptions: Omit<GuardedFetchOptions, 'ca'>,
): Promise<OidcClient> {
  const customFetch = guardedFetch({ ...fetchOptions, ca: settings.ca }) as unknown as oidc.CustomFetch;
  const auth = settings.clientSecret ? oidc.ClientSecretBasic(settings.clientSecret) : oidc.None();
  const config = await oidc.discovery(new URL(settings.issuer), settings.clientId, undefined, auth, {
    [oidc.customFetch]: customFetch,
  });
  config.timeout = 10;
  const algs = config.serverMetadata().id_token_signing_alg_values_supported;
  if (algs && algs.length > 0 && algs.every((a) => a === 'none'))
    throw new OidcRefusal('bad-signature', { cause: new Error('the issuer signs ID tokens with alg none only') });
  return {
    async start(redirectUri) {
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: settings.scopes.join(' '),
        response_type: 'code',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      return { url: url.href, state, nonce, verifier };
    },
    async finish(callbackUrl, expected) {
      if (callbackUrl.searchParams.get('state') !== expected.state) throw new OidcRefusal('state-mismatch');
      let tokens;
      try {
        tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: expected.verifier,
          expectedState: expected.state,
          expectedNonce: expected.nonce,
          idTokenExpected: true,
        });
      } catch (err) {
        if ((err as { code?: string }).code === 'EGRESS_DENIED') throw err;
        throw new OidcRefusal(reasonOf(err), { cause: err });
      }
      const claims = tokens.claims();
      if (!claims) throw new OidcRefusal('token-invalid');
      return { ...claims } as Claims;
    },
  };
}
