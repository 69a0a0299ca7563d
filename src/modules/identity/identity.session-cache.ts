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
 * - **One lookup per key at a time** (`lookup`): when an entry expires (every `ttlMs` under
 *   load) all requests of that session in flight would miss together and each send the same
 *   statement — a burst that queued every one of them behind the others at the connection pool
 *   (measured: the reveal bench's slowest requests). A miss instead joins a lookup of the same key
 *   already under way, but only one that started in the current epoch (no invalidation since it
 *   began) — exactly what a fill stored under that epoch would have answered from the cache — and
 *   only while the cache is in use. If an invalidation comes while it waits, the joiner reads the
 *   database itself; expiry is re-checked against its own clock. A failed lookup fails its
 *   joiners (the request is refused, as its own failed lookup would have been).
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
  /**
   * Read through the cache: a live cached entry, else the answer of `read` — run here, or the one
   * of a lookup of the same key already under way in this epoch (see the file comment).
   */
  lookup(
    idHash: string,
    workspaceId: string | undefined,
    now: Date,
    read: () => Promise<LiveSession | undefined>,
  ): Promise<LiveSession | undefined>;
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
  /** Lookups under way, by key, with the epoch each started in. */
  const pending = new Map<string, { epoch: number; answer: Promise<LiveSession | undefined> }>();
  let epoch = 0;
  let up = false;
  const key = (idHash: string, workspaceId: string | undefined) =>
    workspaceId === undefined ? idHash : `${idHash}\u0000${workspaceId}`;
  const clear = () => {
    epoch++;
    entries.clear();
    pending.clear();
  };
  const expired = (live: LiveSession, now: Date) =>
    now.getTime() >= live.idleExpiresAt.getTime() || now.getTime() >= live.absoluteExpiresAt.getTime();
  const cache: SessionCache = {
    get(idHash, workspaceId, now) {
      if (!up || ttlMs <= 0) return undefined;
      const k = key(idHash, workspaceId);
      const e = entries.get(k);
      if (e === undefined) return undefined;
      if (performance.now() - e.readAt > ttlMs || expired(e.live, now)) {
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
    async lookup(idHash, workspaceId, now, read) {
      if (!up || ttlMs <= 0) return read();
      const hit = cache.get(idHash, workspaceId, now);
      if (hit !== undefined) return hit;
      const k = key(idHash, workspaceId);
      const under = pending.get(k);
      if (under !== undefined && under.epoch === epoch) {
        const live = await under.answer;
        // Invalidated while waiting: this request's own read, as if it had not joined.
        if (under.epoch !== epoch) return read();
        return live === undefined || expired(live, now) ? undefined : live;
      }
      const token = epoch;
      const answer = read();
      pending.set(k, { epoch: token, answer });
      try {
        const live = await answer;
        if (live !== undefined) cache.store(idHash, workspaceId, live, token);
        return live;
      } finally {
        if (pending.get(k)?.answer === answer) pending.delete(k);
      }
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
  return cache;
}
