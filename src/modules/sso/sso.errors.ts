/**
 * Why a single sign-on was refused. Each reason is recorded in the audit trail (for admins) and
 * returned as `meta.reason` of a 401 `SSO_REFUSED`, with a message safe to show the person.
 */
import { AppError } from '../../core/errors.ts';

const MESSAGES = {
  'no-pending-login': 'This sign-in was not started here, was already used or has expired. Start again.',
  'browser-mismatch': 'This sign-in was started in another browser. Start again here.',
  'idp-error': 'The identity provider did not sign you in.',
  'state-mismatch': 'The sign-in answer does not belong to this sign-in. Start again.',
  'nonce-mismatch': 'The identity token does not belong to this sign-in.',
  'issuer-mismatch': 'The identity token comes from another issuer.',
  'audience-mismatch': 'The identity token was issued for another application.',
  'token-expired': 'The identity token has expired.',
  'bad-signature': 'The identity token signature is not valid.',
  'token-invalid': 'The identity token is not valid.',
  'bad-encoding': 'The SAML response is not valid base64.',
  'too-large': 'The SAML response is too large.',
  'doctype-forbidden': 'The SAML response may not contain a DOCTYPE.',
  'malformed-xml': 'The SAML response is not well-formed XML.',
  'unsigned-response': 'The SAML response is not signed by the identity provider.',
  'unsigned-assertion': 'The SAML assertion is not signed by the identity provider.',
  'wrong-audience': 'The SAML assertion is for another service provider.',
  'wrong-destination': 'The SAML response was sent to another address.',
  'wrong-recipient': 'The SAML assertion names another recipient.',
  expired: 'The SAML assertion has expired.',
  'not-yet-valid': 'The SAML assertion is not valid yet.',
  unsolicited: 'Sign-in started at the identity provider is not accepted; start it here.',
  'wrong-in-response-to': 'The SAML response answers another sign-in request.',
  'wrong-issuer': 'The SAML response comes from another identity provider.',
  'idp-status': 'The identity provider did not sign you in.',
  invalid: 'The sign-in answer is not valid.',
  'replayed-assertion': 'This SAML assertion was already used.',
  'groups-overage':
    'Your identity provider left out your groups because you belong to too many. Ask an admin to emit only the groups this application needs (group filtering or app roles).',
  'too-many-groups': 'Your identity provider sent more groups than Strongroom reads.',
  'missing-subject': 'The identity provider did not say who you are.',
  'missing-email': 'The identity provider did not send an email address for your new account.',
  'required-group-missing': 'You are not in a group allowed to use this application.',
  'no-role': 'Your groups give you no access to any workspace.',
  'email-in-use':
    'An account with this email already exists. Sign in with it first, then link single sign-on from your account.',
  'identity-linked-elsewhere': 'This identity is already linked to another account.',
  'account-disabled': 'Your account is disabled.',
  'provider-disabled': 'This sign-in method is turned off.',
} as const;

export type SsoReason = keyof typeof MESSAGES;

export class SsoRefusal extends AppError {
  readonly reason: SsoReason;
  /** Set once the refusal is in the audit trail (so it is not recorded twice). */
  recorded = false;
  constructor(reason: SsoReason, cause?: unknown) {
    super('SSO_REFUSED', { detail: MESSAGES[reason], meta: { reason }, ...(cause ? { cause } : {}) });
    this.reason = reason;
  }
}

export const isSsoReason = (r: string): r is SsoReason => Object.prototype.hasOwnProperty.call(MESSAGES, r);
