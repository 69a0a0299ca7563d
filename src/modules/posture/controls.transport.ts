/**
 * Controls over the live listeners: protocols and suites, the certificate, HSTS and the
 * HTTP→HTTPS redirect. Each connects to the listener with certificate verification on, trusting
 * only the installation's certificate file; none trusts the configuration alone.
 */
import { readCertificateFile } from './cert-file.ts';
import { daysBetween, fail, pass, warn, type Control, type Evidence } from './posture.registry.ts';
import {
  certificateVerdict,
  getOverHttp,
  getOverHttps,
  handshake,
  hstsMaxAge,
  isStrongTls12Suite,
  scanProtocols,
  type TlsTarget,
} from './tls-probe.ts';

export interface TransportDeps {
  /** The live HTTPS listener; undefined before it listens. */
  listener(): TlsTarget | undefined;
  /** The plain-HTTP redirect listener; undefined when it is off. */
  redirect(): { host: string; port: number } | undefined;
  /** Path of the certificate file the listener is configured with (read at every check: SIGHUP reloads it). */
  certFile(): string;
}

const NOT_LISTENING = 'the HTTPS listener is not up yet';

/** The file, or the reason it cannot be used (a plain message, no content). */
async function installationCertificate(deps: TransportDeps) {
  try {
    return await readCertificateFile(deps.certFile());
  } catch (err) {
    return { error: (err as Error).message };
  }
}
const ONE_YEAR_S = 365 * 24 * 3600;

export function transportControls(deps: TransportDeps): Control[] {
  return [
    {
      id: 'tls.protocols',
      title: 'TLS versions and cipher suites offered',
      promise: 'Data in transit is encrypted with TLS 1.2 or better, with forward secrecy and authenticated ciphers.',
      method:
        'Connects to the live listener once per protocol version (TLS 1.0–1.3) and once per TLS 1.2 suite, and records which it accepts.',
      remedy:
        'Serve with Strongroom’s own TLS settings (TLS 1.2/1.3, ECDHE + AEAD suites); if a proxy terminates TLS, configure it the same way.',
      scope: 'installation',
      frameworks: { soc2: ['CC6.7'], iso27001: ['A.8.24'], pciDss: ['4.2.1'], gdpr: ['Art. 32(1)(a)'] },
      async check() {
        const target = deps.listener();
        if (!target) return warn(NOT_LISTENING);
        const file = await installationCertificate(deps);
        if ('error' in file) return warn(`not scanned: ${file.error}`);
        const scan = await scanProtocols(target, file.trust);
        const legacy = scan.accepted.filter((v) => v === 'TLSv1' || v === 'TLSv1.1');
        const weakSuites = scan.tls12Suites.filter((s) => !isStrongTls12Suite(s));
        const evidence = {
          accepted: scan.accepted,
          refused: scan.refused,
          notTestableHere: scan.untestable,
          tls12Suites: scan.tls12Suites,
          certificateErrors: scan.certificateErrors,
        };
        if (legacy.length > 0) return fail(`the listener accepts ${legacy.join(' and ')}`, evidence);
        if (weakSuites.length > 0)
          return fail(
            `the listener accepts TLS 1.2 suites without forward secrecy or AEAD: ${weakSuites.join(', ')}`,
            evidence,
          );
        if (!scan.accepted.includes('TLSv1.2') && !scan.accepted.includes('TLSv1.3'))
          return fail('no handshake succeeded with TLS 1.2 or 1.3', evidence);
        if (scan.untestable.length > 0)
          return warn(
            `${scan.untestable.join(', ')} could not be offered by this machine's TLS library, so their refusal is unproven`,
            evidence,
          );
        return pass(
          `accepts ${scan.accepted.join(', ')} only, with ${scan.tls12Suites.length} ECDHE+AEAD TLS 1.2 suites`,
          evidence,
        );
      },
    },
    {
      id: 'tls.certificate',
      title: 'TLS certificate validity',
      promise: 'The server proves its identity with a valid certificate that is renewed before it expires.',
      method:
        'Reads the installation’s certificate file (expiry, subject, issuer, key), then connects to the live listener with verification on, trusting only that certificate and checking the public host name: the listener must present exactly that certificate.',
      remedy:
        'Install a certificate from your CA (STRONGROOM_TLS_CERT_FILE / STRONGROOM_TLS_KEY_FILE) and send SIGHUP to reload it; if a proxy terminates TLS, give it the same certificate.',
      scope: 'installation',
      frameworks: { soc2: ['CC6.7'], iso27001: ['A.8.24'], pciDss: ['4.2.1'] },
      async check({ now }) {
        const target = deps.listener();
        if (!target) return warn(NOT_LISTENING);
        const file = await installationCertificate(deps);
        if ('error' in file) return fail(`the installation’s certificate file cannot be used: ${file.error}`);
        const { facts, trust } = file;
        const daysLeft = daysBetween(now, facts.notAfter);
        const evidence: Evidence = {
          subject: facts.subject,
          issuer: facts.issuer,
          notAfter: facts.notAfter.toISOString(),
          daysLeft,
          selfSigned: facts.selfSigned,
          key: facts.key,
          fingerprint256: facts.fingerprint256,
          chainLength: facts.chainLength,
          servername: target.servername,
        };
        const h = await handshake(target, trust);
        if (!h.ok && !h.verifyError)
          return fail(`no TLS handshake with the listener (${h.error ?? 'handshake failed'})`, evidence);
        // The listener's leaf is compared too: some verification codes hide behind a later one.
        const verdict =
          h.presented && h.presented !== trust.fingerprint256 ? 'mismatch' : certificateVerdict(h.verifyError);
        evidence.listener = verdict;
        evidence.listenerCode = h.verifyError ?? null;
        evidence.listenerFingerprint256 = h.presented ?? null;
        if (verdict === 'mismatch')
          return fail(
            `the listener presents a certificate other than the installation’s certificate file (${h.verifyError ?? 'different fingerprint'})`,
            evidence,
          );
        if (verdict === 'name-mismatch')
          return fail(`the certificate does not cover the host name ${target.servername}`, evidence);
        if (verdict === 'expired' || facts.notAfter.getTime() <= now.getTime())
          return fail(`the certificate expired on ${facts.notAfter.toISOString()}`, evidence);
        if (verdict === 'not-yet-valid' || facts.notBefore.getTime() > now.getTime())
          return fail(`the certificate is not valid before ${facts.notBefore.toISOString()}`, evidence);
        if (!facts.keyStrong) return fail(`the certificate’s key is too weak (${facts.key})`, evidence);
        if (daysLeft < 30) return warn(`the certificate expires in ${daysLeft} days`, evidence);
        if (facts.selfSigned)
          return warn(
            `self-signed certificate, valid ${daysLeft} more days: fine on one machine, not in production`,
            evidence,
          );
        return pass(`valid ${daysLeft} more days, issued by ${facts.issuer}, served by the listener`, evidence);
      },
    },
    {
      id: 'tls.hsts-redirect',
      title: 'HSTS and HTTP→HTTPS redirect',
      promise: 'Browsers are told to use HTTPS only (HSTS), and plain HTTP serves nothing but a redirect to HTTPS.',
      method:
        'Reads Strict-Transport-Security from a live HTTPS answer; asks the plain-HTTP listener for / and checks it answers only a redirect to https://.',
      remedy:
        'Keep Strongroom’s security headers on (a proxy must pass Strict-Transport-Security through); let the HTTP listener only redirect, or turn it off.',
      scope: 'installation',
      frameworks: { soc2: ['CC6.7'], iso27001: ['A.8.24', 'A.8.20'], pciDss: ['4.2.1'] },
      async check() {
        const target = deps.listener();
        if (!target) return warn(NOT_LISTENING);
        const file = await installationCertificate(deps);
        if ('error' in file) return warn(`not checked: ${file.error}`);
        const answer = await getOverHttps(target, file.trust, '/healthz');
        const maxAge = hstsMaxAge(answer.hsts);
        const evidence: Evidence = {
          hsts: answer.hsts ?? null,
          maxAgeSeconds: maxAge ?? null,
          ...(answer.verifyError ? { httpsCertificate: answer.verifyError } : {}),
        };
        const plain = deps.redirect();
        if (plain) {
          const r = await getOverHttp(plain.host, plain.port, `${target.servername}:${plain.port}`);
          evidence.httpStatus = r.status;
          evidence.httpLocation = r.location ?? null;
          if (![301, 308].includes(r.status) || !r.location?.startsWith('https://'))
            return fail(`plain HTTP answered ${r.status} instead of a redirect to HTTPS`, evidence);
        } else evidence.httpListener = 'off';
        if (answer.verifyError)
          return warn(
            `HSTS unproven: the listener’s certificate did not verify (${answer.verifyError}); see tls.certificate`,
            evidence,
          );
        if (maxAge === undefined) return fail('no Strict-Transport-Security header on HTTPS answers', evidence);
        if (maxAge < ONE_YEAR_S) return warn(`HSTS max-age is ${maxAge} s, less than one year`, evidence);
        return pass(
          `HSTS max-age ${maxAge} s; ${plain ? `plain HTTP redirects (${String(evidence.httpStatus)})` : 'no plain HTTP listener'}`,
          evidence,
        );
      },
    },
  ];
}
