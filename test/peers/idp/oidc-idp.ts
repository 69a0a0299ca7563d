/**
 * A real OpenID Connect provider (`oidc-provider` 8) on 127.0.0.1, over HTTPS with its own
 * self-signed certificate, for the SSO tests. Sign-in is scripted: the interaction page signs in
 * `nextAccount` (with its claims, `amr` and `acr`) and grants the requested scopes, so a test
 * drives the whole authorization-code flow with plain HTTP requests.
 *
 * `tamper` lets a test act as a hostile or broken IdP: it rewrites the ID token the token endpoint
 * returns (claims or header) and re-signs it with the IdP's key, or leaves it unsigned (`alg: none`).
 */
import { createPrivateKey, generateKeyPairSync, sign as rsaSign, type KeyObject } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { generateSelfSigned } from '../../../src/installation/tls.ts';

export interface Account {
  claims: Record<string, unknown>;
  amr?: string[];
  acr?: string;
}

export type Tamper = (header: Record<string, unknown>, payload: Record<string, unknown>) => 'unsigned' | void;

export interface OidcIdp {
  issuer: string;
  /** PEM of the IdP's TLS certificate (give it to Strongroom as the provider's `caPem`). */
  ca: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, Account>;
  nextAccount: string;
  tamper?: Tamper | undefined;
  close(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

function resign(jwt: string, key: KeyObject, tamper: Tamper): string {
  const [h, p] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h!, 'base64url').toString('utf8')) as Record<string, unknown>;
  const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (tamper(header, payload) === 'unsigned') {
    return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(payload))}.`;
  }
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${input}.${b64url(rsaSign('sha256', Buffer.from(input), key))}`;
}

export async function startOidcIdp(opts: { redirectUris: string[]; clientId?: string }): Promise<OidcIdp> {
  const { default: Provider } = (await import('oidc-provider' as string)) as { default: new (...a: unknown[]) => any };
  const { cert, key } = await generateSelfSigned();
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = {
    ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>),
    kid: 'test-key',
    use: 'sig',
    alg: 'RS256',
  };
  const signingKey = createPrivateKey({ key: jwk as never, format: 'jwk' });
  const server = https.createServer({ cert, key });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const issuer = `https://localhost:${port}`;
  const state: OidcIdp = {
    issuer,
    ca: cert,
    clientId: opts.clientId ?? 'strongroom',
    clientSecret: `secret-${Math.random().toString(36).slice(2)}-${Date.now()}`,
    accounts: new Map(),
    nextAccount: '',
    tamper: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: state.clientId,
        client_secret: state.clientSecret,
        redirect_uris: opts.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['oidc-idp-test-cookie-key'] },
    claims: {
      openid: ['sub', 'amr'],
      email: ['email', 'email_verified'],
      profile: ['name', 'groups', 'hasgroups', 'roles_tree'],
    },
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx: unknown, i: { uid: string }) => `/interaction/${i.uid}` },
    findAccount: async (_ctx: unknown, id: string) => {
      const a = state.accounts.get(id);
      if (!a) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...a.claims }) };
    },
  });
  provider.proxy = false;
  const callback = provider.callback();
  server.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', issuer);
      if (url.pathname.startsWith('/interaction/')) {
        const details = await provider.interactionDetails(req, res);
        if (details.prompt.name === 'login') {
          const a = state.accounts.get(state.nextAccount);
          await provider.interactionFinished(
            req,
            res,
            {
              login: {
                accountId: state.nextAccount,
                ...(a?.amr ? { amr: a.amr } : {}),
                ...(a?.acr ? { acr: a.acr } : {}),
              },
            },
            { mergeWithLastSubmission: false },
          );
          return;
        }
        const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
        grant.addOIDCScope(String(details.params.scope));
        const grantId = await grant.save();
        await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
        return;
      }
      if (url.pathname === '/token' && state.tamper) {
        const tamper = state.tamper;
        const chunks: Buffer[] = [];
        const write = res.write.bind(res);
        const end = res.end.bind(res);
        res.write = ((c: Buffer | string) => (chunks.push(Buffer.from(c)), true)) as typeof res.write;
        res.end = ((c?: Buffer | string) => {
          if (c) chunks.push(Buffer.from(c));
          let body = Buffer.concat(chunks).toString('utf8');
          try {
            const json = JSON.parse(body) as { id_token?: string };
            if (json.id_token) json.id_token = resign(json.id_token, signingKey, tamper);
            body = JSON.stringify(json);
          } catch {
            /* not JSON: pass it on */
          }
          res.removeHeader('content-length');
          write(body);
          return end();
        }) as typeof res.end;
      }
      callback(req, res);
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  return state;
}
