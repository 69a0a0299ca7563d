/**
 * A workspace's client network allowlist over HTTPS — declarations only. Owners and admins set
 * it (the change commits with its event); they and auditors read the effective lists (the
 * installation's, the workspace's, the trusted proxies) and the address the server sees for them.
 */
import { workspaceParams } from '../../contracts/common.ts';
import { networkAllowlistBody as body, networkAllowlistOut } from '../../contracts/access.ts';
import { route, type RouteDef } from '../../http/route.ts';
import type { NetworkAllowlists } from './network-allowlist.ts';
import { plainClientAddress } from '../../core/net/client-allowlist.ts';

const url = '/api/v1/workspaces/:ws/network-allowlist';

export function networkAllowlistRoutes(lists: NetworkAllowlists): RouteDef[] {
  return [
    route({
      method: 'GET',
      url,
      action: 'access.network-allowlist.read',
      resource: 'workspace',
      run: 'read',
      schema: { params: workspaceParams, response: { 200: networkAllowlistOut } },
      handler: ({ input, request }) => lists.effective(input.params.ws, plainClientAddress(request.ip)),
    }),
    route({
      method: 'PUT',
      url,
      action: 'access.network-allowlist.update',
      resource: 'workspace',
      run: 'write',
      schema: { params: workspaceParams, body, response: { 200: networkAllowlistOut } },
      handler: async ({ trx, input, event, request, actor }) => {
        const address = plainClientAddress(request.ip);
        const saved = await lists.set(trx, input.params.ws, input.body.cidrs, actor.id, address);
        event.details({ cidrs: saved ? saved.entries.join(',') : 'none' });
        return lists.effectiveWith(saved, address);
      },
    }),
  ];
}
