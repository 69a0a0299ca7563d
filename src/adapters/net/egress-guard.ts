/**
 * The egress (SSRF) guard: the one way Strongroom dials an address a user supplied — drive
 * endpoints (S3, Azure, GCS) and anything else of the kind. DESIGN §5.8.
 *
 * Guarantees:
 * - Resolve once, check every record, connect to the checked address. `lookup` resolves the name,
 *   refuses it unless every A/AAAA record passes the policy (`src/core/net/egress-policy.ts`),
 *   and hands back only those checked records; sockets made by `httpAgent()`/`httpsAgent()` use it
 *   and judge IP literals themselves, so no socket reaches an address that was not checked.
 * - The admin allowlist (STRONGROOM_EGRESS_ALLOWLIST) is the only way past the policy.
 * - Resolution is bounded by the connect timeout; connect and idle-read timeouts are capped.
 * - No redirects: Node's http/https never follow one, and `checkUrl` only judges the one URL it is
 *   given. An SDK that follows redirects must be told not to (docs/egress.md); even if it did, the
 *   redirected request would go through the same agent and be checked again.
 * - Refusals are `EgressDeniedError`s (code EGRESS_DENIED, a `reason`, a plain detail of ours);
 *   nothing a remote server sent ever ends up in them.
 *
 * `checkUrl` gives an early, friendly answer when a user saves an endpoint; it is not what keeps
 * connections safe (DNS may change later) — the agents are.
 */
import dns from 'node:dns';
import type http from 'node:http';
import type https from 'node:https';
import net from 'node:net';
import { EgressDeniedError } from '../../core/net/egress-error.ts';
import type { EgressPolicy } from '../../core/net/egress-policy.ts';
import { createEgressPolicy } from '../../core/net/egress-policy.ts';
import { createGuardedHttpAgent, createGuardedHttpsAgent, EgressTimeoutError } from './egress-agents.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a DNS name to all its addresses. Injectable so tests never need real DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface EgressGuardOptions {
  /** CIDR blocks let through although refused by the policy: comma-separated text or a list. */
  allowlist: string | readonly string[];
  connectTimeoutMs: number;
  readTimeoutMs: number;
  /** Defaults to the system resolver (`dns.lookup`, all records, as the OS returns them). */
  resolve?: Resolver;
}

export interface EgressGuard {
  readonly policy: EgressPolicy;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  /** Checks `host` (name or literal), resolving a name once; returns the checked addresses. */
  resolveHost(host: string): Promise<ResolvedAddress[]>;
  /** Checks a user-supplied URL: http(s) only, no user:password@, every address allowed. */
  checkUrl(url: string | URL): Promise<{ url: URL; addresses: string[] }>;
  /** A `dns.lookup`-compatible function (also `{ all: true }`) that only yields checked addresses. */
  readonly lookup: net.LookupFunction;
  /** A new guarded http.Agent. */
  httpAgent(options?: http.AgentOptions): http.Agent;
  /** A new guarded https.Agent (TLS verification stays on). */
  httpsAgent(options?: https.AgentOptions): https.Agent;
}

export const systemResolver: Resolver = async (hostname) => {
  const answers = await dns.promises.lookup(hostname, { all: true, order: 'verbatim' });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EgressTimeoutError('resolve', ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function familyOf(address: string): 4 | 6 {
  return net.isIPv4(address) ? 4 : 6;
}

export function createEgressGuard(options: EgressGuardOptions): EgressGuard {
  const { connectTimeoutMs, readTimeoutMs } = options;
  const policy = createEgressPolicy(options.allowlist);
  const resolve = options.resolve ?? systemResolver;

  async function resolveHost(host: string): Promise<ResolvedAddress[]> {
    const form = policy.checkHost(host);
    if (form.kind !== 'name') return [{ address: form.address, family: form.kind === 'ipv4' ? 4 : 6 }];
    const answers = await withTimeout(resolve(form.name), connectTimeoutMs);
    const addresses = answers.map((a) => a.address);
    policy.checkAddresses(form.name, addresses);
    return addresses.map((address) => ({ address, family: familyOf(address) }));
  }

  const lookup = ((hostname: string, opts: unknown, cb?: unknown) => {
    const callback = (typeof opts === 'function' ? opts : cb) as (...args: unknown[]) => void;
    const o = (
      typeof opts === 'object' && opts !== null ? opts : { family: typeof opts === 'number' ? opts : 0 }
    ) as dns.LookupOptions;
    const family = o.family === 'IPv4' ? 4 : o.family === 'IPv6' ? 6 : (o.family ?? 0);
    resolveHost(hostname).then(
      (checked) => {
        const usable = family === 0 ? checked : checked.filter((a) => a.family === family);
        const first = usable[0];
        if (!first) {
          const err = Object.assign(new Error(`${hostname} has no IPv${family} address`), {
            code: 'ENOTFOUND',
            hostname,
          });
          process.nextTick(callback, err);
        } else if (o.all) process.nextTick(callback, null, usable);
        else process.nextTick(callback, null, first.address, first.family);
      },
      (err: unknown) => process.nextTick(callback, err),
    );
  }) as net.LookupFunction;

  const deps = { policy, lookup, connectTimeoutMs, readTimeoutMs };
  return Object.freeze({
    policy,
    connectTimeoutMs,
    readTimeoutMs,
    resolveHost,
    lookup,
    async checkUrl(input: string | URL) {
      let url: URL;
      try {
        url = new URL(typeof input === 'string' ? input : input.href);
      } catch {
        throw new EgressDeniedError('INVALID_HOST', 'the endpoint is not a valid URL');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new EgressDeniedError('SCHEME_NOT_ALLOWED', 'only http and https endpoints may be used');
      }
      if (url.username !== '' || url.password !== '') {
        throw new EgressDeniedError(
          'USERINFO_NOT_ALLOWED',
          'the endpoint may not contain a user name or password; give credentials separately',
        );
      }
      const checked = await resolveHost(url.hostname);
      return { url, addresses: checked.map((a) => a.address) };
    },
    httpAgent: (agentOptions?: http.AgentOptions) => createGuardedHttpAgent(deps, agentOptions),
    httpsAgent: (agentOptions?: https.AgentOptions) => createGuardedHttpsAgent(deps, agentOptions),
  });
}

/** The guard as configured (STRONGROOM_EGRESS_ALLOWLIST and the two timeouts). */
export function createEgressGuardFromConfig(
  config: {
    STRONGROOM_EGRESS_ALLOWLIST: string;
    STRONGROOM_EGRESS_CONNECT_TIMEOUT_MS: number;
    STRONGROOM_EGRESS_READ_TIMEOUT_MS: number;
  },
  resolve?: Resolver,
): EgressGuard {
  return createEgressGuard({
    allowlist: config.STRONGROOM_EGRESS_ALLOWLIST,
    connectTimeoutMs: config.STRONGROOM_EGRESS_CONNECT_TIMEOUT_MS,
    readTimeoutMs: config.STRONGROOM_EGRESS_READ_TIMEOUT_MS,
    ...(resolve ? { resolve } : {}),
  });
}
