/**
 * The one actor object that flows from authentication into every authorization decision, service
 * call and audit event. Built once per request by the auth plugin; never from client input.
 */
export type ActorKind = 'user' | 'service' | 'operator' | 'anonymous' | 'system';

export interface Actor {
  id: string;
  kind: ActorKind;
  /** How the actor proved who it is (e.g. `operator-token`, `password+totp`). */
  authMethod?: string;
  workspace?: string;
  roles: readonly string[];
  attributes: Readonly<Record<string, string | number | boolean>>;
  /** Session or token id, when there is one. */
  credentialId?: string;
}

export const ANONYMOUS: Actor = Object.freeze({ id: 'anonymous', kind: 'anonymous', roles: [], attributes: {} });
export const SYSTEM: Actor = Object.freeze({ id: 'system', kind: 'system', roles: [], attributes: {} });
