/**
 * The live-session cache: the session lookup (one statement per authenticated request) answered
 * from memory for up to `ttlMs` (default 1 s), keyed by the session id's hash and the route's
 * workspace. What it must never do is let a revoked session (or a disabled user, a changed role,
 * a changed password — anything the lookup would now refuse or answer differently) keep working.
 *
 * How each change reaches it:
 * - **This server**: every commit here that wrote to `sessions`, `users` or `memberships` drops
 *   the whole cache before the committing code goes on (`invalidateAll`, wired to the database
 *   handle's commit watch, src/db/commit-watch.ts). The request that revoked a session has not
 *   answered yet when its cache entry is gone: the next request, here, reads the database.
 * - **Other servers**: the same writes `NOTIFY strongroom_auth, '<user id>'` at commit
 *   (migration 0026); each server LISTENs and drops that user's entries (`invalidateUser`) —
 *   in practice a few milliseconds.
 * - **Bound**: an entry is never used more than `ttlMs` after it was read, and only while the
 *   listening connection is up: when it is lost the cache is emptied and bypassed until it
 *   listens again (notifications sent meanwhile are lost). So a change made on another server
 *   takes effect here within `ttlMs` even if its notification is delayed or lost.
 * - **Races**: a lookup that started before an invalidation does not store its (possibly stale)
 *   answer — every invalidation moves an epoch, and a fill stores only if the epoch is the one it
 *   started under.
 * - Expiry (idle, absolute) is re-checked against the clock on every use; the idle expiry's slide
 *   is written through as before.
 */
import type { LiveSession } from './identity.sessions.store.ts';

interface Entry {
  live: LiveSession;
  readAt: number;
}

export interface SessionCache {
  /** A cached live session (still within its expiries at `now`), or undefined. */
  get(idHash: string, workspaceId: string | undefined, now: Date): LiveSession | undefined;
  /** A token to pass to `store` for a lookup about to start. */
  begin(): number;
  /** Stores a lookup's answer unless anything was invalidated since `begin()` returned `token`. */
  store(idHash: string, workspaceId: string | undefined, live: LiveSession, token: number): void;
  invalidateAll(): void;
  invalidateUser(userId: string): void;
  /** The change feed is (re)established (true) or lost (false). The cache works only while up. */
  setFeed(up: boolean): void;
  readonly size: number;
}

export function createSessionCache(opts: { ttlMs?: number; maxEntries?: number } = {}): SessionCache {
  const ttlMs = opts.ttlMs ?? 1000;
  const maxEntries = opts.maxEntries ?? 10_000;
  const entries = new Map<string, Entry>();
  let epoch = 0;
  let up = false;
  const key = (idHash: string, workspaceId: string | undefined) =>
    workspaceId === undefined ? idHash : `${idHash}\u0000${workspaceId}`;
  const clear = () => {
    epoch++;
    entries.clear();
  };
  return {
    get(idHash, workspaceId, now) {
      if (!up || ttlMs <= 0) return undefined;
      const k = key(idHash, workspaceId);
      const e = entries.get(k);
      if (e === undefined) return undefined;
      const t = now.getTime();
      if (
        performance.now() - e.readAt > ttlMs ||
        t >= e.live.idleExpiresAt.getTime() ||
        t >= e.live.absoluteExpiresAt.getTime()
      ) {
        entries.delete(k);
        return undefined;
      }
      return e.live;
    },
    begin: () => epoch,
    store(idHash, workspaceId, live, token) {
      if (!up || ttlMs <= 0 || token !== epoch) return;
      if (entries.size >= maxEntries) entries.clear();
      entries.set(key(idHash, workspaceId), { live, readAt: performance.now() });
    },
    invalidateAll: clear,
    invalidateUser(userId) {
      epoch++;
      for (const [k, e] of entries) if (e.live.userId === userId) entries.delete(k);
    },
    setFeed(state) {
      up = state;
      clear();
    },
    get size() {
      return entries.size;
    },
  };
}
