/**
 * SAML 2.0 service provider over `@node-saml/node-saml` (≥ 5.1.0, with xml-crypto ≥ 6.0.1):
 * the AuthnRequest (HTTP-Redirect) and the POST-binding response check.
 *
 * Guarantees, on top of node-saml's own (signature with the pinned IdP certificate only, signed
 * assertion AND signed response by default, audience, NotBefore/NotOnOrAfter with a small skew,
 * InResponseTo of the one request this sign-in started — never unsolicited):
 * - Input is refused before any XML parser sees it when it is not strict base64, is larger than
 *   `maxBytes`, or declares a DOCTYPE/ENTITY (XML bombs, external entities).
 * - The response's `Destination` and the confirmation's `Recipient` must be this SP's ACS URL,
 *   read from the XML that node-saml verified (the signed assertion), not from the raw document.
 * - The assertion ID and its expiry are returned for the caller's replay cache.
 * - Refusals are `SamlRefusal`s with a short reason of ours; node-saml's message stays in `cause`.
 */
import { createRequire } from 'node:module';
import type { CacheProvider, Profile, SAML } from '@node-saml/node-saml';

/** node-saml (and its XML stack) is loaded on the first SAML use, not at server start (~0.3 s). */
let samlLib: Promise<typeof import('@node-saml/node-saml')> | undefined;
const loadSaml = () => (samlLib ??= import('@node-saml/node-saml'));

/**
 * The few DOM shapes read here. `@xmldom/xmldom` is loaded without its type declarations: they
 * pull the browser DOM library into the whole program's types.
 */
interface XmlElement {
  getAttribute(name: string): string | null;
  textContent: string | null;
  localName: string | null;
  namespaceURI: string | null;
  childNodes?: ArrayLike<XmlElement>;
}
interface XmlDocument {
  documentElement: XmlElement;
  getElementsByTagNameNS(ns: string, name: string): { length: number; item(i: number): XmlElement | null };
}
interface XmlDomParser {
  parseFromString(xml: string, type: string): XmlDocument;
}
const { DOMParser } = createRequire(import.meta.url)('@xmldom/xmldom') as {
  DOMParser: new (options: { errorHandler: Record<string, () => void> }) => XmlDomParser;
};

export interface SamlSpSettings {
  /** This SP's entity id (also the expected audience). */
  spEntityId: string;
  /** Assertion consumer service URL (POST binding). */
  acsUrl: string;
  idpEntityId: string;
  idpSsoUrl: string;
  /** The pinned IdP signing certificate(s), PEM or base64 DER. */
  idpCerts: readonly string[];
  /** Default true: the response must be signed. Off only by an explicit, documented opt-out. */
  wantResponseSigned: boolean;
  /** Default true: the assertion must be signed. */
  wantAssertionsSigned: boolean;
  clockSkewMs: number;
  maxBytes?: number;
}

export type SamlRefusalReason =
  | 'bad-encoding'
  | 'too-large'
  | 'doctype-forbidden'
  | 'malformed-xml'
  | 'unsigned-response'
  | 'unsigned-assertion'
  | 'bad-signature'
  | 'wrong-audience'
  | 'wrong-destination'
  | 'wrong-recipient'
  | 'expired'
  | 'not-yet-valid'
  | 'unsolicited'
  | 'wrong-in-response-to'
  | 'wrong-issuer'
  | 'idp-status'
  | 'invalid';

export class SamlRefusal extends Error {
  constructor(
    readonly reason: SamlRefusalReason,
    options?: { cause?: unknown },
  ) {
    super(`SAML sign-in refused: ${reason}`, options);
    this.name = 'SamlRefusal';
  }
}

export interface SamlResult {
  nameId: string;
  nameIdFormat: string;
  issuer: string;
  assertionId: string;
  /** When the assertion stops being valid (replay cache entry lifetime). */
  notOnOrAfter: Date;
  attributes: Record<string, unknown>;
  authnContextClassRef?: string | undefined;
}

const B64 = /^[A-Za-z0-9+/\r\n]+={0,2}[\r\n]*$/;

function reasonOf(message: string): SamlRefusalReason {
  const m = message.toLowerCase();
  if (m.includes('invalid document signature') || m.includes('response is not signed')) return 'unsigned-response';
  if (m.includes('assertion') && m.includes('not signed')) return 'unsigned-assertion';
  if (m.includes('signature')) return 'bad-signature';
  if (m.includes('audience')) return 'wrong-audience';
  if (m.includes('notbefore') || m.includes('not yet valid')) return 'not-yet-valid';
  if (m.includes('notonorafter') || m.includes('expired') || m.includes('maxassertionage')) return 'expired';
  if (m.includes('inresponseto is missing')) return 'unsolicited';
  if (m.includes('inresponseto')) return 'wrong-in-response-to';
  if (m.includes('issuer')) return 'wrong-issuer';
  if (m.includes('status')) return 'idp-status';
  return 'invalid';
}

const DSIG = 'http://www.w3.org/2000/09/xmldsig#';
const childrenOf = (el: XmlElement | undefined | null): XmlElement[] => Array.from(el?.childNodes ?? []);
const hasSignatureChild = (el: XmlElement | undefined) =>
  childrenOf(el).some((c) => c.localName === 'Signature' && c.namespaceURI === DSIG);

/**
 * A more precise reason for a refusal node-saml reports in general words. Only the NAME of the
 * refusal comes from here (read from the raw document); the decision was node-saml's.
 */
function explain(s: SamlSpSettings, xml: string, reason: SamlRefusalReason): SamlRefusalReason {
  if (reason !== 'bad-signature' && reason !== 'unsigned-response' && reason !== 'invalid') return reason;
  const doc = new DOMParser({
    errorHandler: { warning: () => {}, error: () => {}, fatalError: () => {} },
  }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  const assertion = childrenOf(root).find((c) => c.localName === 'Assertion');
  if (reason === 'invalid') {
    const confirmation = firstByLocalName(doc, 'SubjectConfirmationData');
    const until = Date.parse(attr(confirmation, 'NotOnOrAfter') ?? '');
    return Number.isFinite(until) && until + s.clockSkewMs < Date.now() ? 'expired' : 'invalid';
  }
  if (s.wantResponseSigned && !hasSignatureChild(root)) return 'unsigned-response';
  if (s.wantAssertionsSigned && !hasSignatureChild(assertion)) return 'unsigned-assertion';
  return 'bad-signature';
}

/** A cache provider that knows exactly one outstanding request id (the one of this sign-in). */
function oneRequest(requestId: string | undefined): CacheProvider {
  let held = requestId;
  const createdAt = Date.now();
  return {
    saveAsync: async (key, value) => ((held = key), { value, createdAt }),
    getAsync: async (key) => (held !== undefined && key === held ? new Date(createdAt).toISOString() : null),
    removeAsync: async (key) => (key === held ? ((held = undefined), key) : null),
  };
}

async function samlFor(s: SamlSpSettings, requestId?: string): Promise<SAML> {
  const { SAML } = await loadSaml();
  return new SAML({
    issuer: s.spEntityId,
    callbackUrl: s.acsUrl,
    entryPoint: s.idpSsoUrl,
    idpIssuer: s.idpEntityId,
    idpCert: [...s.idpCerts],
    audience: s.spEntityId,
    wantAuthnResponseSigned: s.wantResponseSigned,
    wantAssertionsSigned: s.wantAssertionsSigned,
    acceptedClockSkewMs: s.clockSkewMs,
    validateInResponseTo: 'always' as never,
    requestIdExpirationPeriodMs: 10 * 60_000,
    cacheProvider: oneRequest(requestId),
    identifierFormat: null,
    disableRequestedAuthnContext: true,
  });
}

const attr = (el: XmlElement | null | undefined, name: string) => el?.getAttribute(name) ?? undefined;
function firstByLocalName(doc: XmlDocument, name: string): XmlElement | undefined {
  const list = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', name);
  return list.length > 0 ? (list.item(0) ?? undefined) : undefined;
}

/** The AuthnRequest redirect URL and its request id (kept with the pending sign-in for InResponseTo). */
export async function startSaml(s: SamlSpSettings, relayState: string): Promise<{ url: string; requestId: string }> {
  let requestId = '';
  const saml = await samlFor(s);
  (saml as unknown as { cacheProvider: CacheProvider }).cacheProvider = {
    saveAsync: async (key, value) => ((requestId = key), { value, createdAt: Date.now() }),
    getAsync: async () => null,
    removeAsync: async () => null,
  };
  const url = await saml.getAuthorizeUrlAsync(relayState, undefined, {});
  if (!requestId) throw new SamlRefusal('invalid', { cause: new Error('no AuthnRequest id was generated') });
  return { url, requestId };
}

/** Checks a POST-binding `SAMLResponse` answering `requestId`. */
export async function finishSaml(s: SamlSpSettings, samlResponse: string, requestId: string): Promise<SamlResult> {
  const maxBytes = s.maxBytes ?? 256 * 1024;
  if (samlResponse.length > Math.ceil((maxBytes * 4) / 3) + 4) throw new SamlRefusal('too-large');
  if (!B64.test(samlResponse)) throw new SamlRefusal('bad-encoding');
  const xml = Buffer.from(samlResponse, 'base64').toString('utf8');
  if (!xml.trimStart().startsWith('<')) throw new SamlRefusal('bad-encoding');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new SamlRefusal('doctype-forbidden');
  let profile: Profile | null;
  try {
    ({ profile } = await (await samlFor(s, requestId)).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/xmldom error|not a valid xml|unclosed|malformed|invalid xml|xml parsing|non-whitespace/i.test(message))
      throw new SamlRefusal('malformed-xml', { cause: err });
    throw new SamlRefusal(explain(s, xml, reasonOf(message)), { cause: err });
  }
  if (!profile?.nameID) throw new SamlRefusal('invalid');
  if (profile.issuer !== s.idpEntityId) throw new SamlRefusal('wrong-issuer');
  // Destination and Recipient: read from what node-saml verified.
  const parser = new DOMParser({ errorHandler: { warning: () => {}, error: () => {}, fatalError: () => {} } });
  const responseXml = profile.getSamlResponseXml?.() ?? xml;
  const response = parser.parseFromString(responseXml, 'text/xml').documentElement;
  const destination = attr(response, 'Destination');
  if (destination !== undefined ? destination !== s.acsUrl : s.wantResponseSigned)
    throw new SamlRefusal('wrong-destination');
  const assertionDoc = parser.parseFromString(profile.getAssertionXml?.() ?? '', 'text/xml');
  const assertion = assertionDoc.documentElement;
  const confirmation = firstByLocalName(assertionDoc, 'SubjectConfirmationData');
  if (!confirmation || attr(confirmation, 'Recipient') !== s.acsUrl) throw new SamlRefusal('wrong-recipient');
  const assertionId = attr(assertion, 'ID');
  if (!assertionId) throw new SamlRefusal('invalid');
  const conditions = firstByLocalName(assertionDoc, 'Conditions');
  const until = attr(conditions, 'NotOnOrAfter') ?? attr(confirmation, 'NotOnOrAfter');
  const notOnOrAfter = until ? new Date(until) : new Date(Date.now() + 10 * 60_000);
  const classRef = firstByLocalName(assertionDoc, 'AuthnContextClassRef')?.textContent ?? undefined;
  return {
    nameId: profile.nameID,
    nameIdFormat: profile.nameIDFormat,
    issuer: profile.issuer,
    assertionId,
    notOnOrAfter: Number.isNaN(notOnOrAfter.getTime()) ? new Date(Date.now() + 10 * 60_000) : notOnOrAfter,
    attributes: (profile.attributes as Record<string, unknown> | undefined) ?? {},
    authnContextClassRef: classRef?.trim(),
  };
}

/** This SP's metadata document (entity id, ACS URL, signed assertions wanted). */
export async function spMetadata(s: SamlSpSettings): Promise<string> {
  return (await samlFor(s)).generateServiceProviderMetadata(null, null);
}
