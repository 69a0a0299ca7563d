/**
 * Your account beyond sign-in — declarations only: your live sessions (and ending one), new
 * recovery codes (after a recent re-authentication), and the public first-run question.
 *
 * - `GET /api/v1/setup` is public and answers one thing: whether an owner exists (the console then
 *   shows "Create the first owner" or "Sign in"). Nothing else about the installation.
 * - Sessions are named by a prefix of their id's SHA-256, never by the id (the cookie value).
 * - New recovery codes replace every earlier one and are shown once.
 */
import { z } from 'zod';
import { AppError } from '../../core/errors.ts';
import { route, type PublicRouteDef, type RouteDef } from '../../http/route.ts';
import { SESSION_REF_LENGTH } from './identity.account.store.ts';
import type { IdentityModule } from './identity.service.ts';
import { sessionRef, sessionViewOut } from '../../contracts/identity.ts';

export interface AccountRoutesDeps {
  identity: IdentityModule;
}

export function accountRoutes({ identity }: AccountRoutesDeps): (RouteDef | PublicRouteDef)[] {
  const setupStatus: PublicRouteDef = {
    method: 'GET',
    url: '/api/v1/setup',
    public: 'first run: the console asks whether to show "Create the first owner" (answers only that)',
    schema: { response: { 200: z.object({ ownerExists: z.boolean() }) } },
    handler: async () => ({ ownerExists: await identity.account.ownerExists() }),
  };

  return [
    setupStatus,

    route({
      method: 'GET',
      url: '/api/v1/auth/sessions',
      action: 'identity.self.session-list',
      audit: 'identity.session.list',
      run: 'read',
      resource: 'self',
      schema: { response: { 200: z.object({ sessions: z.array(sessionViewOut) }) } },
      handler: async ({ request, actor }) => {
        const mine = request.auth?.principal?.session?.idHash.slice(0, SESSION_REF_LENGTH);
        const list = await identity.account.sessions(actor.id);
        return { sessions: list.map((s) => ({ ...s, current: s.id === mine })) };
      },
    }),

    route({
      method: 'DELETE',
      url: '/api/v1/auth/sessions/:id',
      action: 'identity.self.sessions-revoke',
      audit: 'identity.session.revoke',
      run: 'write',
      resource: 'self',
      schema: { params: z.object({ id: sessionRef }), response: { 200: z.object({ revoked: z.literal(true) }) } },
      handler: async ({ trx, actor, input, event }) => {
        event.details({ scope: 'one session', session: input.params.id });
        if (!(await identity.account.revokeSession(trx, actor.id, input.params.id)))
          throw new AppError('NOT_FOUND', { detail: 'No such live session of yours.' });
        return { revoked: true as const };
      },
    }),

    route({
      method: 'POST',
      url: '/api/v1/auth/mfa/recovery-codes',
      action: 'identity.self.update',
      audit: 'identity.mfa.recovery-codes',
      run: 'write',
      resource: 'self',
      reauth: true,
      schema: { response: { 200: z.object({ recoveryCodes: z.array(z.string()) }) } },
      handler: async ({ trx, actor, event }) => {
        const recoveryCodes = await identity.account.regenerateRecoveryCodes(trx, actor.id);
        event.details({ step: 'regenerated', count: recoveryCodes.length });
        return { recoveryCodes };
      },
    }),
  ];
}
