/** What the identity module needs; narrowed so tests can pass small fakes. */
import type { Kysely } from 'kysely';
import type { Barrier } from '../../core/crypto/barrier.ts';
import type { Config } from '../../core/config.ts';
import type { Database } from '../../db/schema.ts';
import type { SessionCache } from './identity.session-cache.ts';

export type IdentityConfig = Pick<
  Config,
  | 'STRONGROOM_SESSION_IDLE_SECONDS'
  | 'STRONGROOM_SESSION_ABSOLUTE_SECONDS'
  | 'STRONGROOM_REAUTH_MAX_AGE_SECONDS'
  | 'STRONGROOM_LOGIN_FREE_ATTEMPTS'
  | 'STRONGROOM_LOGIN_MAX_ATTEMPTS'
  | 'STRONGROOM_LOGIN_MAX_ATTEMPTS_PER_ADDRESS'
  | 'STRONGROOM_LOGIN_WINDOW_SECONDS'
  | 'STRONGROOM_LOGIN_LOCK_SECONDS'
>;

export interface IdentityDeps {
  db: Kysely<Database>;
  barrier: Pick<Barrier, 'seal' | 'open'>;
  config: IdentityConfig;
  /** Injected clock (tests move it to check idle and absolute expiry). */
  now?: () => Date;
  /**
   * Whether a correct password may open a session (SSO enforcement, modules/sso): `deny` refuses
   * it, `break-glass` lets it through and marks the event. Absent: always `allow`.
   */
  passwordPolicy?: (userId: string) => Promise<'allow' | 'deny' | 'break-glass'>;
  /** The live-session cache (identity.session-cache.ts); its owner wires the change feed. */
  sessionCache?: SessionCache;
}
