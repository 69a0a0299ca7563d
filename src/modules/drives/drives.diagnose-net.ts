/**
 * Why a drive's endpoint could not be reached, in plain words: the name does not resolve, the
 * port refuses, nothing answers in time, the TLS handshake fails. Each cause has its own step,
 * reason and hint, so a DNS typo is never reported as bad credentials.
 *
 * Only error codes are read (walking `cause`), never an SDK message or a remote body.
 */

export interface NetFailure {
  /** The diagnosis step the failure belongs to. */
  step: 'endpoint' | 'connect' | 'tls';
  reason: string;
  hint: string;
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'ENODATA', 'ESERVFAIL', 'ENONAME']);
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/** Every `code` (and timeout phase) along the cause chain, outermost first. */
function codesOf(err: unknown): { codes: string[]; timeoutPhase?: string; timeoutMs?: number } {
  const codes: string[] = [];
  let timeoutPhase: string | undefined;
  let timeoutMs: number | undefined;
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || depth > 8 || seen.has(e)) return;
    seen.add(e);
    const o = e as { code?: unknown; name?: unknown; phase?: unknown; timeoutMs?: unknown; cause?: unknown };
    if (typeof o.code === 'string') codes.push(o.code);
    if (o.name === 'EgressTimeoutError' && typeof o.phase === 'string') {
      timeoutPhase ??= o.phase;
      if (typeof o.timeoutMs === 'number') timeoutMs ??= o.timeoutMs;
    }
    if (o.name === 'TimeoutError') codes.push('ETIMEDOUT');
    visit(o.cause, depth + 1);
    for (const inner of (e as { errors?: unknown }).errors instanceof Array ? (e as { errors: unknown[] }).errors : [])
      visit(inner, depth + 1);
  };
  visit(err, 0);
  return { codes, ...(timeoutPhase ? { timeoutPhase } : {}), ...(timeoutMs ? { timeoutMs } : {}) };
}

/** The network cause of `err` reaching `endpoint`, or undefined when it is not a network failure. */
export function netFailure(err: unknown, endpoint: string | undefined): NetFailure | undefined {
  let host = 'the endpoint';
  let hostPort = host;
  if (endpoint) {
    try {
      const u = new URL(endpoint);
      host = u.hostname;
      hostPort = `${u.hostname}:${u.port || (u.protocol === 'http:' ? '80' : '443')}`;
    } catch {
      // keep the generic words
    }
  }
  const { codes, timeoutPhase, timeoutMs } = codesOf(err);
  const has = (pred: (c: string) => boolean) => codes.some(pred);
  const within = timeoutMs ? ` within ${Math.round(timeoutMs / 100) / 10} s` : '';

  if (timeoutPhase === 'resolve')
    return {
      step: 'endpoint',
      reason: `resolving ${host} did not finish${within}`,
      hint: 'The DNS server did not answer in time: check the DNS settings of the Strongroom host.',
    };
  if (has((c) => DNS_CODES.has(c)))
    return {
      step: 'endpoint',
      reason: `cannot resolve ${host}`,
      hint: 'Check the spelling of the host name in the endpoint, and that the Strongroom host can resolve it (its DNS server, VPN or /etc/hosts).',
    };
  if (has((c) => c === 'ECONNREFUSED'))
    return {
      step: 'connect',
      reason: `${hostPort} refused the connection`,
      hint: 'Nothing accepts connections on that port: check the port in the endpoint and that the storage service is running.',
    };
  if (has((c) => c === 'EHOSTUNREACH' || c === 'ENETUNREACH'))
    return {
      step: 'connect',
      reason: `no network route to ${host}`,
      hint: 'The Strongroom host has no route to that address: check its network, VPN or firewall.',
    };
  if (has((c) => c === 'CERT_HAS_EXPIRED'))
    return {
      step: 'tls',
      reason: `the TLS certificate of ${host} has expired`,
      hint: 'Renew the certificate of the storage endpoint.',
    };
  if (has((c) => c === 'ERR_TLS_CERT_ALTNAME_INVALID'))
    return {
      step: 'tls',
      reason: `the TLS certificate is not valid for the name ${host}`,
      hint: 'Use the host name the certificate was issued for.',
    };
  if (has((c) => UNTRUSTED.has(c)))
    return {
      step: 'tls',
      reason: `the TLS certificate of ${host} is not signed by a certificate authority Strongroom trusts`,
      hint: 'Use an endpoint with a certificate from a public CA, or give its CA to the Strongroom host (NODE_EXTRA_CA_CERTS).',
    };
  if (has((c) => c === 'EPROTO' || c.startsWith('ERR_SSL') || c.startsWith('ERR_TLS')))
    return {
      step: 'tls',
      reason: `the TLS handshake with ${hostPort} failed`,
      hint: 'The port may not speak TLS (an http:// service?) or only old protocol versions: check the endpoint scheme and port.',
    };
  if (timeoutPhase === 'connect')
    return {
      step: 'connect',
      reason: `no connection to ${hostPort}${within}`,
      hint: 'A firewall may drop the traffic, or the host is down: check the network path (firewall, proxy).',
    };
  // An SDK's own timeout does not say whether the connection or the answer was missing.
  if (timeoutPhase === undefined && has((c) => c === 'ETIMEDOUT'))
    return {
      step: 'connect',
      reason: `no answer from ${hostPort} in time`,
      hint: 'A firewall may drop the traffic, the host may be down, or the port belongs to a service that is not a storage service: check the endpoint and the network path.',
    };
  if (timeoutPhase === 'read')
    return {
      step: 'connect',
      reason: `${hostPort} accepted the connection but did not answer${within}`,
      hint: 'The service is overloaded or is not a storage service: check the endpoint and the service.',
    };
  if (has((c) => c === 'ECONNRESET' || c === 'EPIPE' || c === 'ECONNABORTED'))
    return {
      step: 'connect',
      reason: `${hostPort} closed the connection`,
      hint: 'A proxy or firewall may cut the traffic, or the port belongs to another kind of service.',
    };
  return undefined;
}
