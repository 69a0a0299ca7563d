/**
 * Sign-in and the signed-in user's own account: login, MFA step, logout, me, MFA enrolment and
 * reset, re-authentication, password change, sign out everywhere, and the one-time setup.
 *
 * Login and setup are public (the credential is in the body): they declare their event and the
 * pipeline records it — every sign-in success and failure is `identity.session.create`
 * (never with the password; with the email only when it names an account). Refusals all read
 * "Incorrect email or password." whatever the reason. Every other route is declared on the
 * caller's own account (`resource: 'self'`); the MFA step and re-authentication check the code or
 * password first — their throttle counters commit whatever happens — then `commit` the session
 * change with its event (`run: 'explicit'`, the pipeline's explicit commit). Setup removes the
 * setup-token file once the owner exists (`onSetupComplete`).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { publicRoute, route, type PublicRouteDef, type RouteDef } from '../../http/route.ts';
import type { IdentityModule } from './identity.service.ts';
import { SESSION_COOKIE, SIGN_IN } from './identity.signin.ts';
import { PENDING_MFA, type Strength } from './identity.sessions.store.ts';
import type { User } from './identity.users.store.ts';
import { csrfTokenFor } from './tokens-crypto.ts';
import {
  code,
  meAnswer,
  email,
  password,
  mfaEnrolVerifyAnswer,
  mfaEnrolVerifyBody,
  sessionInfoOut,
  userInfoOut,
} from '../../contracts/identity.ts';

export interface SessionRoutesDeps {
  identity: IdentityModule;
  /** Runs once the first owner exists (removes the setup-token file of the data directory). */
  onSetupComplete?: () => Promise<void>;
}

/** Setup attempts per source address (the body is itself a credential). */
export const SETUP_RATE_LIMIT = { max: 10, timeWindow: '1 minute' } as const;

const COOKIE = { path: '/', secure: true, httpOnly: true, sameSite: 'strict' } as const;
const setSessionCookie = (reply: FastifyReply, id: string) => void reply.setCookie(SESSION_COOKIE, id, COOKIE);
const clearSessionCookie = (reply: FastifyReply) => void reply.clearCookie(SESSION_COOKIE, COOKIE);

function currentSession(request: FastifyRequest) {
  const s = request.auth?.principal?.session;
  if (!s || !request.auth?.sessionId)
    throw new AppError('BAD_REQUEST', { detail: 'This needs a signed-in browser or CLI session, not an API token.' });
  return s;
}

export function sessionRoutes({ identity, onSetupComplete }: SessionRoutesDeps): (RouteDef | PublicRouteDef)[] {
  async function sessionBody(user: User, sessionId: string, strength: string) {
    const privileged = (await identity.principalForSession(sessionId))?.privileged ?? false;
    return {
      user,
      csrfToken: csrfTokenFor(sessionId),
      strength,
      mfaRequired: PENDING_MFA.includes(strength as Strength),
      mfaEnrolmentRequired: privileged && !user.mfaEnabled,
    };
  }

  const login = publicRoute({
    method: 'POST',
    url: '/api/v1/auth/login',
    public: 'sign-in: the password is the credential',
    audit: { action: SIGN_IN, resource: { type: 'user' } },
    schema: { body: z.strictObject({ email, password }), response: { 200: sessionInfoOut } },
    handler: async ({ request, reply, input, event, commit }) => {
      const { email: e, password: p } = input.body;
      const signedIn = await identity.signIn(e, p, request.ip, { event, commit });
      // Session fixation: whatever session the browser presented is revoked; the new id replaces it.
      const presented = request.cookies[SESSION_COOKIE];
      if (presented) await identity.sessions.revokeId(presented);
      setSessionCookie(reply, signedIn.sessionId);
      return sessionBody(signedIn.user, signedIn.sessionId, signedIn.strength);
    },
  });

  const setup = publicRoute({
    method: 'POST',
    url: '/api/v1/setup',
    public: 'first start: the one-time setup token is the credential',
    rateLimit: SETUP_RATE_LIMIT,
    audit: { action: 'identity.user.create', resource: { type: 'system' } },
    schema: {
      body: z.strictObject({
        token: z.string().min(10).max(200),
        email,
        password,
        displayName: z.string().trim().min(1).max(200),
      }),
      response: { 201: z.object({ user: userInfoOut }) },
    },
    handler: async ({ request, reply, input, event, commit }) => {
      const { token, ...user } = input.body;
      const created = await identity.redeemSetupToken(token, user, { event, commit });
      await onSetupComplete?.().catch((err: unknown) =>
        request.log.warn({ err }, 'could not remove the setup-token file'),
      );
      return reply.code(201).send({ user: created });
    },
  });

  return [
    login,

    route({
      method: 'POST',
      url: '/api/v1/auth/mfa',
      action: 'identity.self.mfa-verify',
      audit: 'identity.session.create',
      run: 'explicit',
      resource: 'self',
      schema: { body: z.strictObject({ code }), response: { 200: sessionInfoOut } },
      handler: async ({ request, reply, input, event, commit }) => {
        const s = currentSession(request);
        if (!PENDING_MFA.includes(s.strength))
          throw new AppError('CONFLICT', { detail: 'This session is already fully signed in.' });
        event.details({ step: 'mfa' });
        const factor = await identity.checkSecondFactor(s.userId, input.body.code);
        // After single sign-on the first factor was the IdP's: `sso+totp`, not `password+totp`.
        const strength =
          factor && s.strength === 'sso-pending-mfa' ? (factor.replace('password+', 'sso+') as Strength) : factor;
        if (!strength) {
          event.details({ reason: 'bad-code' });
          throw new AppError('UNAUTHENTICATED', { detail: 'The code is not valid.' });
        }
        const sessionId = await commit((trx) => identity.sessions.rotate(trx, s, strength, request.ip, true));
        setSessionCookie(reply, sessionId);
        const user = await identity.users.find(s.userId);
        return sessionBody(user!, sessionId, strength);
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/auth/logout',
      action: 'identity.self.logout',
      audit: 'identity.session.revoke',
      run: 'write',
      resource: 'self',
      schema: {},
      handler: async ({ trx, request, reply, event }) => {
        const s = request.auth?.principal?.session;
        if (s) await identity.sessions.revoke(trx, s.idHash);
        event.details({ scope: 'this session' });
        clearSessionCookie(reply);
        return { signedOut: true };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/auth/sessions/revoke-all',
      action: 'identity.self.sessions-revoke',
      audit: 'identity.session.revoke',
      run: 'write',
      resource: 'self',
      schema: {},
      handler: async ({ trx, actor, reply, event }) => {
        const revoked = await identity.sessions.revokeAll(trx, actor.id);
        event.details({ scope: 'all sessions', revoked });
        clearSessionCookie(reply);
        return { revoked };
      },
    }),

    route({
      method: 'GET',
      url: '/api/v1/auth/me',
      action: 'identity.self.read',
      run: 'read',
      resource: 'self',
      unaudited: "answers only the caller's own identity; the console reads it on every page load",
      schema: {
        response: {
          200: meAnswer,
        },
      },
      handler: async ({ request, actor }) => {
        const user = await identity.users.find(actor.id);
        if (!user) throw new AppError('NOT_FOUND');
        const { passwordHash: _h, ...pub } = user;
        return {
          user: pub,
          ...(request.auth?.sessionId ? { csrfToken: csrfTokenFor(request.auth.sessionId) } : {}),
          strength: actor.authMethod ?? 'unknown',
          mfaRequired: false,
          mfaEnrolmentRequired: Boolean(request.auth?.principal?.privileged && !user.mfaEnabled),
          // Where the user is a member (and as what): the console's workspace switcher.
          workspaces: await identity.users.workspacesOf(user.id),
          recoveryCodesLeft: user.mfaEnabled ? await identity.account.recoveryCodesLeft(user.id) : null,
        };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/auth/reauth',
      action: 'identity.self.reauth',
      audit: 'identity.session.reauth',
      run: 'explicit',
      resource: 'self',
      schema: { body: z.strictObject({ password, code: code.optional() }) },
      handler: async ({ request, input, event, commit }) => {
        const s = currentSession(request);
        const refused = await identity.checkReauth(s.userId, input.body.password, input.body.code, request.ip);
        if (refused) {
          event.details({ reason: refused });
          throw new AppError('UNAUTHENTICATED', { detail: 'Incorrect password or code.' });
        }
        await commit((trx) => identity.sessions.markProven(trx, s.idHash));
        return { reauthenticated: true, validForSeconds: identity.config.STRONGROOM_REAUTH_MAX_AGE_SECONDS };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/auth/mfa/enrol',
      action: 'identity.self.mfa-enrol',
      audit: 'identity.mfa.enrol',
      run: 'write',
      resource: 'self',
      schema: { response: { 200: z.object({ secret: z.string(), otpauthUri: z.string() }) } },
      handler: async ({ trx, actor, event }) => {
        const user = await identity.users.find(actor.id, trx);
        if (!user) throw new AppError('NOT_FOUND');
        const { secret, uri } = await identity.mfa.startEnrolment(trx, user.id, user.email);
        event.details({ step: 'started' });
        return { secret, otpauthUri: uri };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/auth/mfa/enrol/verify',
      action: 'identity.self.mfa-activate',
      audit: 'identity.mfa.enrol',
      run: 'write',
      resource: 'self',
      schema: {
        body: mfaEnrolVerifyBody,
        response: { 200: mfaEnrolVerifyAnswer },
      },
      handler: async ({ trx, request, reply, actor, input, event }) => {
        const codes = await identity.mfa.confirmEnrolment(trx, actor.id, input.body.code);
        if (!codes)
          throw new AppError('VALIDATION_FAILED', {
            detail: 'The code is not valid.',
            meta: { issues: [{ location: 'body', path: '/code', message: 'not valid' }] },
          });
        event.details({ step: 'activated' });
        const s = request.auth?.principal?.session;
        if (!s) return { recoveryCodes: codes };
        // Privilege change: the session gets a new id and the stronger level it just proved.
        const sessionId = await identity.sessions.rotate(trx, s, 'password+totp', request.ip, true);
        setSessionCookie(reply, sessionId);
        return { recoveryCodes: codes, csrfToken: csrfTokenFor(sessionId) };
      },
    }),

    route({
      method: 'DELETE',
      url: '/api/v1/auth/mfa',
      action: 'identity.self.mfa-reset',
      audit: 'identity.mfa.reset',
      run: 'write',
      resource: 'self',
      reauth: true,
      schema: {},
      handler: async ({ trx, actor }) => {
        await identity.mfa.reset(trx, actor.id);
        return { reset: true };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/auth/password',
      action: 'identity.self.password-change',
      audit: 'identity.user.password-change',
      run: 'write',
      resource: 'self',
      reauth: true,
      schema: { body: z.strictObject({ password }) },
      handler: async ({ trx, request, actor, input }) => {
        await identity.users.changePassword(
          trx,
          actor.id,
          input.body.password,
          request.auth?.principal?.session?.idHash,
        );
        return { changed: true };
      },
    }),

    setup,
  ];
}
