/**
 * The client network allowlist, enforced first: before authentication, body parsing or any
 * route work, a request whose client address is outside the installation's list — or, on a route
 * of a workspace with its own list, outside that one — is answered 403 (problem+json,
 * NETWORK_NOT_ALLOWED) and recorded as `network.client.refused` (actor anonymous, the source
 * address, the route pattern, which list refused). `/healthz` and `/readyz` stay reachable for
 * load balancers (they carry nothing).
 *
 * The client address is Fastify's `request.ip`: the TCP peer, or — only when the peer is a
 * trusted proxy (STRONGROOM_TRUSTED_PROXIES) — the right-most X-Forwarded-For address that is
 * not itself a trusted proxy (see `trustProxyFor`).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ANONYMOUS } from '../../core/actor.ts';
import { AppError } from '../../core/errors.ts';
import { plainClientAddress, type ClientNetwork } from '../../core/net/client-allowlist.ts';
import { WORKSPACE_ID } from '../../contracts/common.ts';
import type { NetworkAllowlists } from '../../modules/access/index.ts';
import type { AuditContext } from '../audit-context.ts';

const PROBES = new Set(['/healthz', '/readyz']);

/** Fastify's `trustProxy`: X-Forwarded-For is believed only from the configured proxies. */
export function trustProxyFor(network: ClientNetwork): false | ((address: string) => boolean) {
  return network.trustedProxies.entries.length === 0 ? false : (address) => network.trustedProxies.has(address);
}

function workspaceOf(request: FastifyRequest): string | undefined {
  const ws = (request.params as { ws?: unknown } | undefined)?.ws;
  return typeof ws === 'string' && WORKSPACE_ID.test(ws) ? ws : undefined;
}

export function registerClientNetwork(
  app: FastifyInstance,
  deps: { lists: NetworkAllowlists; audit: Pick<AuditContext, 'recordAlone'> },
): void {
  app.addHook('onRequest', async (request) => {
    if (PROBES.has(request.routeOptions.url ?? '')) return;
    const address = plainClientAddress(request.ip);
    const workspaceId = workspaceOf(request);
    const scope = await deps.lists.refusal(address, workspaceId);
    if (!scope) return;
    const access = request.routeOptions.config.access;
    const action = access && !('public' in access) ? access.audit : undefined;
    await deps.audit.recordAlone(
      request,
      {
        action: 'network.client.refused',
        outcome: 'denied',
        resource:
          scope === 'workspace' && workspaceId
            ? { type: 'workspace', id: workspaceId, workspace: workspaceId }
            : { type: 'system' },
        details: {
          scope,
          route: `${request.method} ${request.routeOptions.url ?? '(no route)'}`,
          ...(action ? { routeAction: action } : {}),
        },
      },
      ANONYMOUS,
    );
    throw new AppError('NETWORK_NOT_ALLOWED', {
      detail:
        scope === 'workspace'
          ? `Your address (${address}) is not in this workspace's client network allowlist.`
          : `Your address (${address}) is not in this installation's client network allowlist.`,
    });
  });
}
