/**
 * Wires the session cache to its change feed: the database handle's in-process commit watch
 * (this server's writes) and `LISTEN strongroom_auth` (every server's writes, migration 0026).
 * Returns the function that unwires it.
 */
import type { DatabaseHandle } from '../../db/database.ts';
import type { SessionCache } from './identity.session-cache.ts';

/** The tables whose rows a cached live session is read from. */
const AUTH_TABLES = /\b"?(sessions|users|memberships)"?\b/i;
export const AUTH_CHANNEL = 'strongroom_auth';

export function wireSessionCache(
  cache: SessionCache,
  database: Pick<DatabaseHandle, 'commits' | 'listen'>,
): () => Promise<void> {
  const unwatch = database.commits.add(AUTH_TABLES, () => cache.invalidateAll());
  const unlisten = database.listen(
    AUTH_CHANNEL,
    (userId) => (userId ? cache.invalidateUser(userId) : cache.invalidateAll()),
    (up) => cache.setFeed(up),
  );
  return async () => {
    cache.setFeed(false);
    unwatch();
    await unlisten();
  };
}
