/**
 * Reads an IdP's SAML metadata XML: entity id, HTTP-Redirect SSO URL, signing certificates.
 * The document is refused before parsing when it declares a DOCTYPE/ENTITY (XML bombs, external
 * entities); nothing of it is echoed back in an error.
 */
import { createRequire } from 'node:module';
import { AppError } from '../../core/errors.ts';

interface El {
  getAttribute(name: string): string | null;
  textContent: string | null;
  parentNode: El | null;
  localName: string;
}
interface Doc {
  documentElement: El | null;
  getElementsByTagNameNS(ns: string, name: string): { length: number; item(i: number): El | null };
}
// Loaded without its type declarations: they pull the browser DOM library into the program's types.
const { DOMParser } = createRequire(import.meta.url)('@xmldom/xmldom') as {
  DOMParser: new (o: { errorHandler: Record<string, () => void> }) => { parseFromString(x: string, t: string): Doc };
};

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

const refuse = (why: string) => new AppError('VALIDATION_FAILED', { detail: `The IdP metadata ${why}.` });

function all(doc: Doc, ns: string, name: string): El[] {
  const list = doc.getElementsByTagNameNS(ns, name);
  return Array.from({ length: list.length }, (_, i) => list.item(i)).filter((e): e is El => e !== null);
}

export function parseIdpMetadata(xml: string): { entityId: string; ssoUrl: string; certs: string[] } {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw refuse('may not declare a DOCTYPE or entities');
  let failed = false;
  const doc = new DOMParser({
    errorHandler: { warning: () => {}, error: () => (failed = true), fatalError: () => (failed = true) },
  }).parseFromString(xml, 'text/xml');
  const root = doc.documentElement;
  if (failed || !root || root.localName !== 'EntityDescriptor') throw refuse('is not a SAML EntityDescriptor');
  const entityId = root.getAttribute('entityID');
  const sso = all(doc, MD, 'SingleSignOnService').find((e) => e.getAttribute('Binding') === REDIRECT);
  const ssoUrl = sso?.getAttribute('Location');
  const certs = all(doc, MD, 'KeyDescriptor')
    .filter((k) => (k.getAttribute('use') ?? 'signing') === 'signing')
    .flatMap((k) => all(doc, DS, 'X509Certificate').filter((c) => isInside(c, k)))
    .map((c) => (c.textContent ?? '').replace(/\s+/g, ''))
    .filter((c) => /^[A-Za-z0-9+/]+=*$/.test(c))
    .map((b64) => `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`);
  if (!entityId || !ssoUrl || certs.length === 0)
    throw refuse('lacks the entity id, an HTTP-Redirect SSO service or a signing certificate');
  return { entityId, ssoUrl, certs: [...new Set(certs)] };
}

function isInside(node: El, ancestor: El): boolean {
  for (let n: El | null = node.parentNode; n; n = n.parentNode) if (n === ancestor) return true;
  return false;
}
