/**
 * A real SAML identity provider in the test process: `samlify` (with the libxml2 schema validator
 * `@authenio/samlify-node-xmllint`) parses Strongroom's AuthnRequest and produces signed
 * responses with its own RSA key. Tests pick what it signs (response, assertion, both, neither)
 * and may change any value of the response before it is signed (audience, destination,
 * recipient, times, InResponseTo, NameID) — or the bytes after, to attack the signature.
 * The SSO URL is never dialled, the test carries the messages; `serveMetadata` publishes the
 * metadata over HTTPS on loopback (for import by URL through the egress guard).
 */
import { randomUUID, webcrypto } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import * as x509 from '@peculiar/x509';
import { generateSelfSigned } from '../../../src/installation/tls.ts';

// samlify's type declarations pull the browser DOM library into the program: loaded untyped.
const require = createRequire(import.meta.url);
const samlify = require('samlify') as any;
samlify.setSchemaValidator(
  require('@authenio/samlify-node-xmllint') as { validate: (xml: string) => Promise<unknown> },
);

const POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

export async function rsaSelfSigned(cn: string): Promise<{ cert: string; key: string }> {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const c = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: alg,
    keys,
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  return {
    cert: c.toString('pem'),
    key: `-----BEGIN PRIVATE KEY-----\n${pkcs8.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`,
  };
}

export interface SamlUser {
  nameId: string;
  attributes?: Record<string, string[]>;
  authnContextClassRef?: string;
}

export interface ResponseOptions {
  /** Sign the assertion / the whole response (default both). */
  signAssertion?: boolean;
  signResponse?: boolean;
  /** Template values to replace (Audience, Destination, SubjectRecipient, ConditionsNotBefore, …). */
  override?: Record<string, string>;
}

export interface SamlIdp {
  entityId: string;
  ssoUrl: string;
  cert: string;
  metadataXml: string;
  /** Serves the metadata at `https://localhost:<port>/metadata` (self-signed: `ca`); other paths 404. */
  serveMetadata(): Promise<{ url: string; ca: string; close: () => Promise<void> }>;
  /** The request id of an AuthnRequest redirect URL (HTTP-Redirect binding), parsed by samlify. */
  parseRequest(redirectUrl: string, spEntityId: string, acsUrl: string): Promise<string>;
  /** A base64 SAMLResponse answering `requestId`. */
  respond(
    requestId: string,
    user: SamlUser,
    sp: { entityId: string; acsUrl: string },
    opts?: ResponseOptions,
  ): Promise<string>;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export async function startSamlIdp(
  opts: { entityId?: string; keys?: { cert: string; key: string } } = {},
): Promise<SamlIdp> {
  const entityId = opts.entityId ?? 'https://idp.saml.test/metadata';
  const ssoUrl = 'https://localhost:1/saml/sso'; // never dialled
  const { cert, key } = opts.keys ?? (await rsaSelfSigned('samlify test IdP'));
  const idp = samlify.IdentityProvider({
    entityID: entityId,
    signingCert: cert,
    privateKey: key,
    singleSignOnService: [{ Binding: REDIRECT, Location: ssoUrl }],
    nameIDFormat: [EMAIL_FORMAT],
    isAssertionEncrypted: false,
    requestSignatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  });
  const spFor = (sp: { entityId: string; acsUrl: string }, o: ResponseOptions = {}) =>
    samlify.ServiceProvider({
      entityID: sp.entityId,
      assertionConsumerService: [{ Binding: POST, Location: sp.acsUrl }],
      wantAssertionsSigned: o.signAssertion ?? true,
      wantMessageSigned: o.signResponse ?? true,
      authnRequestsSigned: false,
    });
  return {
    entityId,
    ssoUrl,
    cert,
    metadataXml: idp.getMetadata() as string,
    async serveMetadata() {
      const { cert: tlsCert, key: tlsKey } = await generateSelfSigned();
      const xml = idp.getMetadata() as string;
      const server = https.createServer({ cert: tlsCert, key: tlsKey }, (req, res) => {
        if (req.url === '/metadata') res.writeHead(200, { 'content-type': 'application/samlmetadata+xml' }).end(xml);
        else res.writeHead(404, { 'content-type': 'text/plain' }).end('<secret-remote-text/>');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      return {
        url: `https://localhost:${port}/metadata`,
        ca: tlsCert,
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
    },
    async parseRequest(redirectUrl, spEntityId, acsUrl) {
      const url = new URL(redirectUrl);
      const query = Object.fromEntries(url.searchParams);
      const parsed = await idp.parseLoginRequest(spFor({ entityId: spEntityId, acsUrl }), 'redirect', {
        query,
        octetString: url.search.slice(1),
      });
      return parsed.extract.request.id as string;
    },
    async respond(requestId, user, sp, o = {}) {
      const now = new Date();
      const later = new Date(now.getTime() + 5 * 60_000).toISOString();
      const attrs = Object.entries(user.attributes ?? {})
        .map(
          ([name, values]) =>
            `<saml:Attribute Name="${esc(name)}">${values
              .map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`)
              .join('')}</saml:Attribute>`,
        )
        .join('');
      const values: Record<string, string> = {
        ID: `_${randomUUID()}`,
        AssertionID: `_${randomUUID()}`,
        Destination: sp.acsUrl,
        Audience: sp.entityId,
        SubjectRecipient: sp.acsUrl,
        Issuer: entityId,
        IssueInstant: now.toISOString(),
        StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
        ConditionsNotBefore: new Date(now.getTime() - 1000).toISOString(),
        ConditionsNotOnOrAfter: later,
        SubjectConfirmationDataNotOnOrAfter: later,
        NameIDFormat: EMAIL_FORMAT,
        NameID: esc(user.nameId),
        InResponseTo: requestId,
        AuthnStatement: `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_s${randomUUID()}"><saml:AuthnContext><saml:AuthnContextClassRef>${esc(
          user.authnContextClassRef ?? 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
        )}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
        AttributeStatement: attrs ? `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>` : '',
        ...o.override,
      };
      const fill = (template: string) => ({
        id: values.ID,
        context: template.replace(/\{(\w+)\}/g, (_m, k: string) => values[k] ?? ''),
      });
      if (o.signAssertion === false && o.signResponse === false) {
        return Buffer.from(fill(samlify.SamlLib.defaultLoginResponseTemplate.context as string).context).toString(
          'base64',
        );
      }
      const r = await idp.createLoginResponse(
        spFor(sp, o),
        { extract: { request: { id: requestId } } },
        'post',
        { email: user.nameId },
        fill,
      );
      return r.context as string;
    },
  };
}
