/**
 * Sign-in and the signed-in user's own account: login, MFA step, logout, me, MFA enrolment and
 * reset, re-authentication, password change, sign out everywhere, and the one-time setup.
 * Every sign-in success and failure is the audit event `identity.session.create` (never with the
 * password; with the email only when it names an existing account). Refusals all read
 * "Incorrect email or password." whatever the reason (unknown, wrong, locked, disabled).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ANONYMOUS, type Actor } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import { SESSION_COOKIE, csrfTokenFor, type IdentityModule, type User } from '../../modules/identity/index.ts';
import type { AuditContext } from '../audit-context.ts';
import { requireRecentAuth } from '../plugins/auth.ts';

export interface AuthRoutesDeps {
  identity: IdentityModule;
  audit: AuditContext;
}

const LOGIN_FAILED = 'Incorrect email or password.';
const email = z.string().trim().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'an email address');
const password = z.string().min(1).max(1024);
const code = z.string().trim().min(6).max(32);

const userOut = z.object({ id: z.string(), email: z.string(), displayName: z.string(), status: z.string(), mfaEnabled: z.boolean(), attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])) });
const sessionOut = z.object({ user: userOut, csrfToken: z.string(), strength: z.string(), mfaRequired: z.boolean(), mfaEnrolmentRequired: z.boolean() });

const userActor = (u: { id: string }, authMethod?: string): Actor => ({ id: u.id, kind: 'user', roles: [], attributes: {}, ...(authMethod ? { authMethod } : {}) });

function setSessionCookie(reply: FastifyReply, id: string): void {
  reply.setCookie(SESSION_COOKIE, id, { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
}
function clearSessionCookie(reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { path: '/', secure: true, httpOnly: true, sameSite: 'strict' });
}

function currentSession(request: FastifyRequest) {
  const s = request.auth?.principal?.session;
  if (!s || !request.auth?.sessionId) throw new AppError('BAD_REQUEST', { detail: 'This needs a signed-in browser or CLI session, not an API token.' });
  return s;
}

export function registerAuthRoutes(app: FastifyInstance, deps: AuthRoutesDeps): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { identity, audit } = deps;
  const userResource = (id: string) => ({ type: 'user', id });

  async function sessionBody(user: User, sessionId: string, strength: string) {
    const privileged = (await identity.principalForSession(sessionId))?.privileged ?? false;
    return { user, csrfToken: csrfTokenFor(sessionId), strength, mfaRequired: strength === 'password-pending-mfa', mfaEnrolmentRequired: privileged && !user.mfaEnabled };
  }

  r.post(
    '/api/v1/auth/login',
    { config: { access: { public: 'sign-in: the password is the credential' } }, schema: { body: z.strictObject({ email, password }), response: { 200: sessionOut } } },
    async (request, reply) => {
      const { email: e, password: p } = request.body;
      const result = await identity.login(e, p, request.ip, async (trx, res) => {
        if (!res.ok) return;
        request.actor = userActor(res.user, res.strength);
        await audit.recordIn(trx, request, { action: 'identity.session.create', resource: userResource(res.user.id), details: { email: res.user.email, strength: res.strength } });
      });
      if (!result.ok) {
        const details = { reason: result.reason, ...(result.user ? { email: result.user.email } : {}) };
        await audit.recordAlone(request, { action: 'identity.session.create', outcome: 'failure', resource: result.user ? userResource(result.user.id) : { type: 'user' }, details }, ANONYMOUS);
        throw new AppError('UNAUTHENTICATED', { detail: LOGIN_FAILED });
      }
      // Session fixation: whatever session the browser presented is revoked; the new id replaces it.
      const presented = request.cookies[SESSION_COOKIE];
      if (presented) await identity.revokeSessionId(presented);
      setSessionCookie(reply, result.sessionId);
      return sessionBody(result.user, result.sessionId, result.strength);
    },
  );

  r.post(
    '/api/v1/auth/mfa',
    { config: { access: { action: 'identity.self.mfa-verify', audit: 'identity.session.create' } }, schema: { body: z.strictObject({ code }), response: { 200: sessionOut } } },
    async (request, reply) => {
      const s = currentSession(request);
      if (s.strength !== 'password-pending-mfa') throw new AppError('CONFLICT', { detail: 'This session is already fully signed in.' });
      const done = await identity.completeMfa(s.idHash, s.userId, request.body.code, request.ip, (trx) =>
        audit.recordIn(trx, request, { action: 'identity.session.create', resource: userResource(s.userId), details: { step: 'mfa' } }),
      );
      if (!done) {
        await audit.recordAlone(request, { action: 'identity.session.create', outcome: 'failure', resource: userResource(s.userId), details: { step: 'mfa', reason: 'bad-code' } });
        throw new AppError('UNAUTHENTICATED', { detail: 'The code is not valid.' });
      }
      setSessionCookie(reply, done.sessionId);
      const user = await identity.users.find(s.userId);
      return sessionBody(user!, done.sessionId, done.strength);
    },
  );

  r.post('/api/v1/auth/logout', { config: { access: { action: 'identity.self.logout', audit: 'identity.session.revoke' } } }, async (request, reply) => {
    const s = request.auth?.principal?.session;
    if (s) await identity.logout(s.idHash);
    await audit.recordAlone(request, { action: 'identity.session.revoke', resource: userResource(request.actor.id), details: { scope: 'this session' } });
    clearSessionCookie(reply);
    return { signedOut: true };
  });

  r.post('/api/v1/auth/sessions/revoke-all', { config: { access: { action: 'identity.self.sessions-revoke', audit: 'identity.session.revoke' } } }, async (request, reply) => {
    const n = await identity.signOutEverywhere(request.actor.id);
    await audit.recordAlone(request, { action: 'identity.session.revoke', resource: userResource(request.actor.id), details: { scope: 'all sessions', revoked: n } });
    clearSessionCookie(reply);
    return { revoked: n };
  });

  r.get(
    '/api/v1/auth/me',
    {
      config: { access: { action: 'identity.self.read', audit: 'identity.self.read' } },
      schema: { response: { 200: sessionOut.extend({ csrfToken: z.string().optional(), workspaces: z.array(z.object({ id: z.string(), name: z.string(), roles: z.array(z.string()) })) }) } },
    },
    async (request) => {
      const user = await identity.users.find(request.actor.id);
      if (!user) throw new AppError('NOT_FOUND');
      const p = request.auth?.principal;
      const { passwordHash: _h, ...pub } = user;
      return {
        user: pub,
        ...(request.auth?.sessionId ? { csrfToken: csrfTokenFor(request.auth.sessionId) } : {}),
        strength: request.actor.authMethod ?? 'unknown',
        mfaRequired: false,
        mfaEnrolmentRequired: Boolean(p?.privileged && !user.mfaEnabled),
        // Where the user is a member (and as what): the console's workspace switcher.
        workspaces: await identity.users.workspacesOf(user.id),
      };
    },
  );

  r.post(
    '/api/v1/auth/reauth',
    { config: { access: { action: 'identity.self.reauth', audit: 'identity.session.reauth' } }, schema: { body: z.strictObject({ password, code: code.optional() }) } },
    async (request) => {
      const s = currentSession(request);
      const failed = await identity.reauthenticate(s.idHash, s.userId, request.body.password, request.body.code, request.ip);
      if (failed) {
        await audit.recordAlone(request, { action: 'identity.session.reauth', outcome: 'failure', resource: userResource(s.userId), details: { reason: failed } });
        throw new AppError('UNAUTHENTICATED', { detail: 'Incorrect password or code.' });
      }
      await audit.recordAlone(request, { action: 'identity.session.reauth', resource: userResource(s.userId) });
      return { reauthenticated: true, validForSeconds: identity.config.STRONGROOM_REAUTH_MAX_AGE_SECONDS };
    },
  );

  r.post('/api/v1/auth/mfa/enrol', { config: { access: { action: 'identity.self.mfa-enrol', audit: 'identity.mfa.enrol' } }, schema: { response: { 200: z.object({ secret: z.string(), otpauthUri: z.string() }) } } }, async (request) => {
    const user = await identity.users.find(request.actor.id);
    if (!user) throw new AppError('NOT_FOUND');
    const { secret, uri } = await identity.mfa.startEnrolment(user.id, user.email);
    await audit.recordAlone(request, { action: 'identity.mfa.enrol', resource: userResource(user.id), details: { step: 'started' } });
    return { secret, otpauthUri: uri };
  });

  r.post(
    '/api/v1/auth/mfa/enrol/verify',
    { config: { access: { action: 'identity.self.mfa-activate', audit: 'identity.mfa.enrol' } }, schema: { body: z.strictObject({ code }), response: { 200: z.object({ recoveryCodes: z.array(z.string()), csrfToken: z.string().optional() }) } } },
    async (request, reply) => {
      const codes = await identity.mfa.confirmEnrolment(request.actor.id, request.body.code);
      if (!codes) throw new AppError('VALIDATION_FAILED', { detail: 'The code is not valid.', meta: { issues: [{ location: 'body', path: '/code', message: 'not valid' }] } });
      const s = request.auth?.principal?.session;
      const spec = { action: 'identity.mfa.enrol', resource: userResource(request.actor.id), details: { step: 'activated' } };
      if (!s) {
        await audit.recordAlone(request, spec);
        return { recoveryCodes: codes };
      }
      // Privilege change: the session gets a new id and the stronger level it just proved.
      const id = await identity.rotateSession(s, 'password+totp', request.ip, (trx) => audit.recordIn(trx, request, spec), true);
      setSessionCookie(reply, id);
      return { recoveryCodes: codes, csrfToken: csrfTokenFor(id) };
    },
  );

  r.delete('/api/v1/auth/mfa', { config: { access: { action: 'identity.self.mfa-reset', audit: 'identity.mfa.reset' } } }, async (request) => {
    requireRecentAuth(request);
    await identity.mfa.reset(request.actor.id);
    await audit.recordAlone(request, { action: 'identity.mfa.reset', resource: userResource(request.actor.id) });
    return { reset: true };
  });

  r.post('/api/v1/auth/password', { config: { access: { action: 'identity.self.password-change', audit: 'identity.user.password-change' } }, schema: { body: z.strictObject({ password }) } }, async (request) => {
    requireRecentAuth(request);
    await identity.users.changePassword(request.actor.id, request.body.password, request.auth?.principal?.session?.idHash, (trx) =>
      audit.recordIn(trx, request, { action: 'identity.user.password-change', resource: userResource(request.actor.id) }),
    );
    return { changed: true };
  });

  r.post(
    '/api/v1/setup',
    {
      config: { access: { public: 'first start: the one-time setup token is the credential' }, rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: { body: z.strictObject({ token: z.string().min(10).max(200), email, password, displayName: z.string().trim().min(1).max(200) }), response: { 201: z.object({ user: userOut }) } },
    },
    async (request, reply) => {
      const { token, ...user } = request.body;
      try {
        const created = await identity.redeemSetupToken(token, user, async (trx) => {
          await audit.recordIn(trx, request, { action: 'identity.user.create', resource: { type: 'user' }, details: { via: 'setup token', role: 'owner', workspace: 'default' } });
        });
        return reply.code(201).send({ user: created });
      } catch (err) {
        if (err instanceof AppError && err.code !== 'AUDIT_UNAVAILABLE') {
          await audit.recordAlone(request, { action: 'identity.user.create', outcome: 'failure', details: { via: 'setup token', error: err.code } });
        }
        throw err;
      }
    },
  );
}
