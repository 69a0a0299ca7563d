/**
 * Routes every request of @google-cloud/storage 7.22 through one caller-supplied http(s).Agent
 * (the egress guard). The SDK has three HTTP paths:
 *
 * 1. JSON API calls, simple uploads and downloads go through teeny-request, which ignores any
 *    `agent` option and picks a pooled/global agent in `agents.getAgent(uri, reqOpts)`. We wrap that
 *    one export (once per process) so that a request carrying `reqOpts.agent` uses it; requests
 *    without one behave exactly as before.
 * 2. Resumable uploads go through gaxios with `customRequestOptions` built from the Storage
 *    request interceptors, and gaxios honours `agent`. (The driver's own uploads, gcs-upload.ts,
 *    do not use this path: they pass the agent to gaxios themselves.)
 * 3. Token fetches for a service-account key are ours (gcs-token.ts) and take the agent directly.
 *    A caller-supplied `authClient` fetches tokens over its own transport: the caller's concern.
 *
 * A request interceptor puts the agent on every request of paths 1 and 2. If the teeny-request
 * hook cannot be installed (a different SDK layout), `installTeenyAgentHook` throws instead of
 * letting requests bypass the guard.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Agent as HttpAgent } from 'node:http';

type GetAgent = (uri: string, reqOpts: { agent?: unknown }) => unknown;
const HOOKED = Symbol.for('strongroom.gcs.teenyAgentHook');

export function installTeenyAgentHook(): void {
  const storageRequire = createRequire(createRequire(import.meta.url).resolve('@google-cloud/storage'));
  const teenyMain = storageRequire.resolve('teeny-request');
  const agents = storageRequire(path.join(path.dirname(teenyMain), 'agents.js')) as {
    getAgent?: GetAgent;
    [HOOKED]?: true;
  };
  if (agents[HOOKED]) return;
  const original = agents.getAgent;
  if (typeof original !== 'function')
    throw new Error('teeny-request has no agents.getAgent: cannot route GCS traffic through the egress agent');
  agents.getAgent = (uri, reqOpts) => (reqOpts && reqOpts.agent ? reqOpts.agent : original(uri, reqOpts));
  agents[HOOKED] = true;
}

/** A Storage request interceptor that sets `agent` on every request. */
export function agentInterceptor(agent: HttpAgent): { request: (opts: any) => any } {
  return {
    request: (opts: any) => {
      opts.agent = agent;
      return opts;
    },
  };
}
