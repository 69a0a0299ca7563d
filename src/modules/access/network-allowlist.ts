/**
 * Client network allowlists: the installation's (STRONGROOM_ALLOWED_CLIENT_CIDRS) and, narrowing
 * it for the routes of one workspace, the workspace's own (set by its owners/admins).
 *
 * Guarantees:
 * - A request is allowed when its client address is in the installation's list (or that list is
 *   empty) AND, on a route of a workspace that has a list, in the workspace's list.
 * - Saving a list that would exclude the caller's own address is refused (CONFLICT): nobody locks
 *   themselves out by mistake. An empty list removes the workspace's narrowing.
 * - A list with bad entries is refused as a whole (VALIDATION_FAILED); each issue's path names
 *   its entry (`/cidrs/2`).
 * - Lists are cached per process for a few seconds; a save clears this process's entry at once,
 *   other instances see it within the cache time.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../../core/errors.ts';
import { parseClientCidrs, type AddressList, type ClientNetwork } from '../../core/net/client-allowlist.ts';
import type { Database } from '../../db/schema.ts';
import { readNetworkAllowlist, writeNetworkAllowlist, type Db } from './access.store.ts';

const CACHE_MS = 5000;

/** Stands for a stored list that cannot be read: in force, and no address is in it. */
const UNREADABLE: AddressList = { entries: ['(unreadable list)'], has: () => false };

export interface EffectiveAllowlist {
  /** The installation's list; empty = every address. */
  installation: readonly string[];
  /** The workspace's list; null = no narrowing. */
  workspace: readonly string[] | null;
  /** Proxies whose X-Forwarded-For is believed. */
  trustedProxies: readonly string[];
  /** The caller's address as the server sees it, and whether it is allowed. */
  yourAddress: string;
  allowed: boolean;
}

export function createNetworkAllowlists(deps: { db: Kysely<Database>; network: ClientNetwork; clock?: () => number }) {
  const clock = deps.clock ?? Date.now;
  const cache = new Map<string, { list: AddressList | undefined; at: number }>();
  // Reads under way, by workspace: when the entry expires, every request of that workspace in
  // flight would otherwise read the list at once (a burst on the connection pool every CACHE_MS
  // under load). A miss joins a read started since the last save here (`saved` moves on each).
  const reading = new Map<string, { saved: number; list: Promise<AddressList | undefined> }>();
  let saved = 0;

  async function forWorkspace(workspaceId: string): Promise<AddressList | undefined> {
    const hit = cache.get(workspaceId);
    if (hit && clock() - hit.at < CACHE_MS) return hit.list;
    const under = reading.get(workspaceId);
    if (under !== undefined && under.saved === saved) return under.list;
    const list = readList(workspaceId);
    reading.set(workspaceId, { saved, list });
    try {
      return await list;
    } finally {
      if (reading.get(workspaceId)?.list === list) reading.delete(workspaceId);
    }
  }

  async function readList(workspaceId: string): Promise<AddressList | undefined> {
    const cidrs = await readNetworkAllowlist(deps.db, workspaceId);
    const parsed = cidrs ? parseClientCidrs(cidrs) : undefined;
    // A stored list that no longer parses (saved lists are validated, so only a hand edit or a
    // parser change) refuses everyone rather than dropping the workspace's narrowing: fail closed.
    const list = parsed === undefined ? undefined : Array.isArray(parsed) ? UNREADABLE : parsed;
    if (cache.size > 10_000) cache.clear();
    cache.set(workspaceId, { list, at: clock() });
    return list;
  }

  return {
    installation: deps.network,
    forWorkspace,

    /** Which list refuses `address` on a route of `workspace` (if any), or undefined when allowed. */
    async refusal(address: string, workspaceId: string | undefined): Promise<'installation' | 'workspace' | undefined> {
      if (!deps.network.allows(address)) return 'installation';
      if (workspaceId === undefined) return undefined;
      const list = await forWorkspace(workspaceId);
      return list && list.entries.length > 0 && !list.has(address) ? 'workspace' : undefined;
    },

    async effective(workspaceId: string, address: string): Promise<EffectiveAllowlist> {
      return this.effectiveWith(await forWorkspace(workspaceId), address);
    },

    /** The effective lists with `list` as the workspace's (no database read: usable inside a transaction). */
    effectiveWith(list: AddressList | undefined, address: string): EffectiveAllowlist {
      return {
        installation: deps.network.allowed.entries,
        workspace: list ? list.entries : null,
        trustedProxies: deps.network.trustedProxies.entries,
        yourAddress: address,
        allowed: deps.network.allows(address) && (!list || list.has(address)),
      };
    },

    /** Replaces the workspace's list in `trx` (with its event); refuses one that excludes `address`. */
    async set(
      trx: Db,
      workspaceId: string,
      cidrs: readonly string[],
      by: string,
      address: string,
    ): Promise<AddressList | undefined> {
      const parsed = parseClientCidrs(cidrs);
      if (Array.isArray(parsed)) {
        // Each issue names the entry it is about (`/cidrs/<index>`), so a form can show it there.
        const issues = cidrs.flatMap((c, i) => {
          const one = parseClientCidrs([c]);
          return Array.isArray(one) ? one.map((message) => ({ location: 'body', path: `/cidrs/${i}`, message })) : [];
        });
        throw new AppError('VALIDATION_FAILED', {
          detail: parsed.join('; '),
          meta: {
            issues:
              issues.length > 0 ? issues : parsed.map((message) => ({ location: 'body', path: '/cidrs', message })),
          },
        });
      }
      if (parsed.entries.length > 0 && !parsed.has(address))
        throw new AppError('CONFLICT', {
          detail: `This list does not include your own address (${address}): saving it would lock you out. Add it, or ask from an address in the list.`,
        });
      await writeNetworkAllowlist(trx, workspaceId, [...parsed.entries], by);
      cache.delete(workspaceId);
      saved++;
      return parsed.entries.length > 0 ? parsed : undefined;
    },
  };
}

export type NetworkAllowlists = ReturnType<typeof createNetworkAllowlists>;
