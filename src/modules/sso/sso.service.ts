/**
 * `createSsoModule(deps)`: identity providers (operator), group → role mappings and SSO
 * enforcement (workspace admins), and the sign-in flows the public routes run. Functions that
 * change state take the caller's transaction, so the pipeline records the event in it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { guardedFetch } from '../../adapters/idp/guarded-fetch.ts';
import type { EgressGuard } from '../../adapters/net/egress-guard.ts';
import type { Barrier } from '../../core/crypto/barrier.ts';
import { AppError } from '../../core/errors.ts';
import type { Database } from '../../db/schema.ts';
import type { Role } from '../../db/tables/identity.ts';
import { safeEqual, sha256Hex, type IdentityModule, type Strength, type User } from '../identity/index.ts';
import type { RecordExtraEvent } from '../../http/extra-events.ts';
import { completeSignIn } from './sso.accounts.ts';
import { SsoRefusal } from './sso.errors.ts';
import * as flows from './sso.flows.ts';
import { createScim } from './sso.scim.ts';
import { settingsOf, type Provider, type ProviderInput, type ProviderSettings } from './sso.providers.ts';
import * as store from './sso.store.ts';

type Trx = Transaction<Database>;

const handoffCtx = (codeHash: string) => ({ table: 'sso_cli_handoffs', column: 'session_sealed', rowId: codeHash });
const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
/** 12 symbols of 32 (60 bits), shown as XXXX-XXXX-XXXX; useless without the CLI's verifier. */
function humanCode(): string {
  const bytes = randomBytes(12);
  const s = Array.from(bytes, (b) => CODE_ALPHABET[b & 31]).join('');
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

export interface SsoDeps {
  db: Kysely<Database>;
  barrier: Pick<Barrier, 'seal' | 'open'>;
  identity: IdentityModule;
  guard: EgressGuard;
  /** STRONGROOM_PUBLIC_URL, if set; else `https://localhost:<port listened on>`. */
  publicUrl?: string | undefined;
  now?: () => Date;
}

function toProvider(r: store.ProviderRecord): Provider {
  return {
    id: r.id,
    kind: r.kind,
    displayName: r.displayName,
    issuer: r.issuer,
    enabled: r.enabled,
    settings: r.settings as unknown as ProviderSettings,
    hasSecret: r.secretSealed !== null,
    ...(r.lastError && r.lastErrorAt ? { lastError: { message: r.lastError, at: r.lastErrorAt.toISOString() } } : {}),
  };
}

export function createSsoModule(deps: SsoDeps) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  let port = 0;
  const publicUrl = () => (deps.publicUrl ?? `https://localhost:${port}`).replace(/\/+$/, '');
  const flow: flows.FlowDeps = { db, barrier: deps.barrier, guard: deps.guard, publicUrl, now };

  async function loadEnabled(id: string): Promise<{ p: Provider; secret: Buffer | null }> {
    const r = await store.findProvider(db, id);
    if (!r) throw new AppError('NOT_FOUND', { detail: 'No such sign-in provider.' });
    if (!r.enabled) throw new SsoRefusal('provider-disabled');
    return { p: toProvider(r), secret: r.secretSealed };
  }

  /**
   * SAML metadata given by URL: fetched once through the egress guard (https only, TLS verified,
   * no redirects, ≤ 200 KB), then read like pasted metadata. A refused address is 422
   * EGRESS_DENIED; anything else unusable is 502 SSO_PROVIDER_ERROR (no remote text echoed).
   */
  async function withMetadata(input: ProviderInput): Promise<ProviderInput> {
    if (input.kind !== 'saml' || !input.metadataUrl || input.metadataXml) return input;
    const fetchIt = guardedFetch({ guard: deps.guard, ca: input.caPem, maxBytes: 200_000 });
    let xml: string;
    try {
      const res = await fetchIt(input.metadataUrl, {
        headers: { accept: 'application/samlmetadata+xml, application/xml, text/xml' },
      });
      if (res.status !== 200) throw new Error(`metadata answered ${res.status}`);
      xml = await res.text();
    } catch (err) {
      if (err instanceof AppError) throw err;
      throw new AppError('SSO_PROVIDER_ERROR', {
        detail: 'The IdP metadata URL could not be fetched or did not answer 200.',
        cause: err,
      });
    }
    return { ...input, metadataXml: xml };
  }

  /** Checks what can be checked before saving: the address (egress guard) and, for OIDC, discovery. */
  async function probe(id: string, input: ProviderInput, settings: ProviderSettings, secret?: string): Promise<void> {
    if (settings.kind === 'oidc') {
      await deps.guard.checkUrl(settings.issuer);
      const p: Provider = {
        id,
        kind: 'oidc',
        displayName: '',
        issuer: settings.issuer,
        enabled: true,
        settings,
        hasSecret: false,
      };
      const sealed = secret ? deps.barrier.seal(Buffer.from(secret, 'utf8'), flows.secretCtx(id)) : null;
      await flows.probeOidc(flow, p, sealed);
    } else {
      await deps.guard.checkUrl(settings.idpSsoUrl);
    }
    void input;
  }

  return {
    /** Called once the HTTPS listener has its port (the callback URLs name it when no public URL is set). */
    setLocalPort: (p: number) => void (port = p),
    publicUrl,
    /** SCIM 2.0 provisioning (`sso.scim.ts`). */
    scim: createScim({ db, identity: deps.identity, publicUrl, now }),
    revokeSessionId: (id: string) => deps.identity.sessions.revokeId(id),

    providers: {
      list: async () => (await store.listProviders(db)).map(toProvider),
      find: async (id: string, ex: store.Executor = db) => {
        const r = await store.findProvider(ex, id);
        return r ? toProvider(r) : undefined;
      },
      /** Saves a new provider after checking its issuer is reachable through the egress guard. */
      async create(trx: Trx, id: string, given: ProviderInput): Promise<Provider> {
        const input = await withMetadata(given);
        const { issuer, settings, secret } = settingsOf(input);
        if (await store.issuerTaken(trx, issuer))
          throw new AppError('CONFLICT', { detail: 'Another provider already uses this issuer.' });
        await probe(id, input, settings, secret);
        const sealed = secret ? deps.barrier.seal(Buffer.from(secret, 'utf8'), flows.secretCtx(id)) : null;
        const record = {
          id,
          kind: input.kind,
          displayName: input.displayName,
          issuer,
          enabled: input.enabled,
          settings: settings as unknown as Record<string, unknown>,
          secretSealed: sealed,
        };
        if (!(await store.insertProvider(trx, record)))
          throw new AppError('CONFLICT', { detail: `A provider named ${id} already exists.` });
        return toProvider({ ...record, lastError: null, lastErrorAt: null });
      },
      async update(trx: Trx, current: Provider, given: ProviderInput): Promise<Provider> {
        const input = await withMetadata(given);
        if (input.kind !== current.kind)
          throw new AppError('CONFLICT', { detail: 'A provider cannot change kind; add a new one.' });
        const { issuer, settings, secret } = settingsOf(input);
        if (await store.issuerTaken(trx, issuer, current.id))
          throw new AppError('CONFLICT', { detail: 'Another provider already uses this issuer.' });
        if (issuer !== current.issuer)
          throw new AppError('CONFLICT', {
            detail: 'The issuer of a provider cannot change (accounts are keyed on it); add a new provider.',
          });
        await probe(current.id, input, settings, secret);
        const sealed = secret ? deps.barrier.seal(Buffer.from(secret, 'utf8'), flows.secretCtx(current.id)) : undefined;
        await store.updateProvider(
          trx,
          {
            id: current.id,
            displayName: input.displayName,
            issuer,
            enabled: input.enabled,
            settings: settings as unknown as Record<string, unknown>,
            ...(sealed ? { secretSealed: sealed } : {}),
          },
          now(),
        );
        flows.forgetClient(flow, current.id);
        return {
          ...current,
          displayName: input.displayName,
          enabled: input.enabled,
          settings,
          hasSecret: current.hasSecret || sealed !== undefined,
        };
      },
      async remove(trx: Trx, id: string): Promise<void> {
        await store.deleteProvider(trx, id);
        flows.forgetClient(flow, id);
      },
      metadata: async (id: string) => flows.metadataOf(flow, (await loadEnabled(id)).p),
    },

    mappings: {
      list: (workspaceId: string) => store.mappingsOfWorkspace(db, workspaceId),
      replace: (trx: Trx, workspaceId: string, providerId: string, list: readonly { group: string; role: Role }[]) =>
        store.replaceMappings(trx, workspaceId, providerId, list),
    },

    enforcement: {
      get: (workspaceId: string) => store.enforcement(db, workspaceId),
      set: (trx: Trx, workspaceId: string, enforce: boolean) => store.setEnforcement(trx, workspaceId, enforce, now()),
    },

    /**
     * Password sign-in under SSO enforcement: refused for a member of any enforcing workspace,
     * except an owner there who has MFA enrolled (break-glass: allowed, and marked in the event).
     */
    async passwordPolicy(userId: string): Promise<'allow' | 'deny' | 'break-glass'> {
      const enforcing = await store.enforcingWorkspaces(db, userId);
      if (enforcing.length === 0) return 'allow';
      const user = await deps.identity.users.find(userId);
      const owner = enforcing.some((m) => m.role === 'owner');
      return owner && user?.mfaEnabled ? 'break-glass' : 'deny';
    },

    async start(
      providerId: string,
      opts: { returnTo: string; linkUserId?: string | undefined; cliChallenge?: string | undefined },
    ) {
      const { p, secret } = await loadEnabled(providerId);
      return flows.startFlow(flow, p, secret, opts);
    },

    /**
     * The CLI redeems the code shown in the browser with its verifier: the sealed session, once.
     * A wrong verifier uses the code up as well (no second guess).
     */
    async redeemCli(code: string, verifier: string) {
      const codeHash = sha256Hex(code.trim().toUpperCase());
      const h = await store.takeHandoff(db, codeHash, now());
      const challenge = createHash('sha256').update(verifier, 'utf8').digest('base64url');
      if (!h || !safeEqual(challenge, h.challenge))
        throw new AppError('UNAUTHENTICATED', { detail: 'The code is not valid, has expired or was used.' });
      const sessionId = deps.barrier.open(h.sessionSealed, handoffCtx(codeHash)).toString('utf8');
      const user = await deps.identity.users.find(h.userId);
      if (!user) throw new AppError('UNAUTHENTICATED', { detail: 'The code is not valid, has expired or was used.' });
      return { user, sessionId, strength: h.strength };
    },

    /** The OIDC callback: checks, then accounts (see sso.accounts.ts); refusals are recorded here. */
    async finishOidc(
      providerId: string,
      callbackUrl: URL,
      cookieState: string | undefined,
      ip: string | undefined,
      record: RecordExtraEvent,
    ) {
      return finishRecorded(providerId, 'oidc', record, async (p, secret) => {
        const { asserted, pending } = await flows.finishOidc(flow, p, secret, callbackUrl, cookieState);
        return handOver(
          pending,
          await completeSignIn({ db, identity: deps.identity }, p, asserted, pending, ip, record),
        );
      });
    },
    async finishSaml(
      providerId: string,
      body: { SAMLResponse: string; RelayState?: string | undefined },
      cookieState: string | undefined,
      ip: string | undefined,
      record: RecordExtraEvent,
    ) {
      return finishRecorded(providerId, 'saml', record, async (p) => {
        const { asserted, pending } = await flows.finishSamlFlow(flow, p, body, cookieState);
        return handOver(
          pending,
          await completeSignIn({ db, identity: deps.identity }, p, asserted, pending, ip, record),
        );
      });
    },
  };

  /**
   * A sign-in the CLI started (`strongroom login --sso`): the browser gets no session, only a
   * one-time code to paste into the terminal; the session is sealed until the CLI redeems the
   * code together with the verifier whose hash started the sign-in (5 minutes, once).
   */
  async function handOver(pending: store.PendingLogin, out: { user: User; sessionId: string; strength: Strength }) {
    if (!pending.cliChallenge) return { ...out, returnTo: pending.returnTo };
    const code = humanCode();
    const codeHash = sha256Hex(code);
    await store.insertHandoff(db, {
      codeHash,
      challenge: pending.cliChallenge,
      sessionSealed: deps.barrier.seal(Buffer.from(out.sessionId, 'utf8'), handoffCtx(codeHash)),
      userId: out.user.id,
      strength: out.strength,
      expiresAt: new Date(now().getTime() + 5 * 60_000),
    });
    return { ...out, returnTo: pending.returnTo, cliCode: code };
  }

  async function finishRecorded<T>(
    providerId: string,
    method: 'oidc' | 'saml',
    record: RecordExtraEvent,
    work: (p: Provider, secret: Buffer | null) => Promise<T>,
  ): Promise<T> {
    let provider: Provider | undefined;
    try {
      const { p, secret } = await loadEnabled(providerId);
      provider = p;
      if (p.kind !== method) throw new AppError('NOT_FOUND', { detail: 'No such sign-in provider.' });
      return await work(p, secret);
    } catch (err) {
      const reason = err instanceof SsoRefusal ? err.reason : err instanceof AppError ? err.code : 'INTERNAL';
      if (reason === 'groups-overage' && provider)
        await store.setProviderError(
          db,
          provider.id,
          'Group overage: the IdP left out the groups claim for a user in too many groups.',
          now(),
        );
      // Refusals recorded by completeSignIn are marked; everything else is recorded here.
      if (
        !(err instanceof SsoRefusal && err.recorded) &&
        !(err instanceof AppError && err.code === 'AUDIT_UNAVAILABLE')
      )
        await record({
          action: 'identity.session.create',
          outcome: 'failure',
          resource: { type: 'user' },
          details: { method, provider: providerId, reason },
        });
      throw err;
    }
  }
}

export type SsoModule = ReturnType<typeof createSsoModule>;
