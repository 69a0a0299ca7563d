/**
 * What a sign-in asserted, read from OIDC claims or SAML attributes, the same way for both.
 *
 * - Groups come from a configurable dotted path (`groups`, `realm_access.roles`,
 *   `resource_access.app.roles`); a string is one group, an array is many, anything else none.
 *   Up to MAX_GROUPS are read (a count above it is refused as an overage, never truncated).
 * - Entra ID "group overage": when a user is in too many groups the ID token carries no `groups`
 *   claim but `_claim_names.groups` (or `hasgroups: true`). That is detected and refused with its
 *   own reason — never read as "no groups", which would silently strip every role.
 * - MFA is taken from the IdP only when it says so: an `amr` value or the `acr` (OIDC), or the
 *   AuthnContextClassRef (SAML), in the provider's `mfaValues`.
 * - The email counts as verified only when the OIDC `email_verified` claim is literally `true`.
 */

export const MAX_GROUPS = 5000;

export interface Asserted {
  issuer: string;
  subject: string;
  email?: string | undefined;
  emailVerified: boolean;
  displayName?: string | undefined;
  groups: string[];
  mfa: boolean;
}

export class ClaimsRefusal extends Error {
  constructor(readonly reason: 'groups-overage' | 'too-many-groups' | 'missing-subject') {
    super(`sign-in refused: ${reason}`);
    this.name = 'ClaimsRefusal';
  }
}

/** Reads a dotted path; own properties only (no `__proto__`, no prototype walk). */
export function readPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function groupsAt(source: Record<string, unknown>, path: string): string[] {
  const v = readPath(source, path);
  const list = typeof v === 'string' ? [v] : Array.isArray(v) ? v : [];
  if (list.length > MAX_GROUPS) throw new ClaimsRefusal('too-many-groups');
  // '*' is the mapping table's "everyone of this provider": never a group an IdP can assert.
  return [...new Set(list.filter((g): g is string => typeof g === 'string' && g.length > 0 && g !== '*'))];
}

/** True when the IdP left groups out because there were too many (Entra ID overage). */
export function hasGroupOverage(claims: Record<string, unknown>, path: string): boolean {
  if (readPath(claims, path) !== undefined) return false;
  const names = claims._claim_names;
  const first = path.split('.')[0]!;
  return (
    claims.hasgroups === true ||
    (names !== null && typeof names === 'object' && Object.prototype.hasOwnProperty.call(names, first))
  );
}

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);

export function fromOidc(
  claims: Record<string, unknown> & { iss: string; sub: string },
  opts: { groupsClaim: string; mfaValues: readonly string[] },
): Asserted {
  if (!str(claims.sub)) throw new ClaimsRefusal('missing-subject');
  if (hasGroupOverage(claims, opts.groupsClaim)) throw new ClaimsRefusal('groups-overage');
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((x): x is string => typeof x === 'string') : [];
  const acr = str(claims.acr);
  return {
    issuer: claims.iss,
    subject: claims.sub,
    email: str(claims.email),
    emailVerified: claims.email_verified === true,
    displayName: str(claims.name) ?? str(claims.preferred_username),
    groups: groupsAt(claims, opts.groupsClaim),
    mfa: amr.some((a) => opts.mfaValues.includes(a)) || (acr !== undefined && opts.mfaValues.includes(acr)),
  };
}

export function fromSaml(
  result: {
    issuer: string;
    nameId: string;
    attributes: Record<string, unknown>;
    authnContextClassRef?: string | undefined;
  },
  opts: { groupsClaim: string; emailAttribute: string; mfaValues: readonly string[] },
): Asserted {
  if (!result.nameId) throw new ClaimsRefusal('missing-subject');
  const attrs = result.attributes;
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(attrs, k) ? attrs[k] : undefined);
  const groups = own(opts.groupsClaim) !== undefined ? groupsAt({ g: own(opts.groupsClaim) }, 'g') : [];
  return {
    issuer: result.issuer,
    subject: result.nameId,
    email: str(own(opts.emailAttribute)),
    emailVerified: false, // SAML has no standard "verified" flag: never used for linking
    displayName: str(own('displayName')) ?? str(own('name')),
    groups,
    mfa: result.authnContextClassRef !== undefined && opts.mfaValues.includes(result.authnContextClassRef),
  };
}
