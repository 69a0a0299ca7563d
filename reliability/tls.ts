/**
 * `npm run reliability -- tls [--quick]`: the live listeners of a real server (`strongroom serve`,
 * HTTPS and the HTTP redirect port), scanned from inside the suite's loopback-only network
 * namespace:
 *
 * - sslscan: only TLS 1.2 and 1.3 enabled; every accepted suite an AEAD (GCM, ChaCha20-Poly1305,
 *   CCM) with forward secrecy (ECDHE/DHE key exchange, or TLS 1.3); no TLS compression,
 *   no insecure renegotiation, no Heartbleed;
 * - testssl (skipped with `--quick`): protocols and each cipher, judged by
 *   scripts/check-testssl.mjs (the same judge as `scripts/tls-scan.sh`);
 * - HSTS on an HTTPS answer with max-age of at least one year;
 * - the HTTP port answers every request with a redirect to HTTPS and nothing else.
 *
 * Ends with `reliability-tls: tried=<checks> passed=… failed=… suites=<accepted suites>`.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../test/helpers/cli.ts';
import { createInstance, isMain, summary } from './lib/instance.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const AEAD = /GCM|CHACHA20|POLY1305|CCM/i;
const FORWARD_SECRET = /^(ECDHE|DHE)-|^TLS_/;

function attr(tag: string, name: string): string | undefined {
  return new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];
}

export async function runTls(opts: { quick: boolean; log?: (l: string) => void }) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const httpPort = await freePort();
  const inst = await createInstance({ env: { STRONGROOM_HTTP_PORT: String(httpPort) } });
  const checks: { name: string; problems: string[] }[] = [];
  const check = (name: string, problems: string[]) => {
    checks.push({ name, problems });
    log(`${name}: ${problems.length === 0 ? 'ok' : problems.join('; ')}`);
  };
  let suites = 0;
  try {
    await inst.start();
    const target = `127.0.0.1:${inst.port}`;

    const scan = spawnSync('sslscan', ['--no-colour', '--xml=-', '--show-sigs', target], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    const xml = scan.stdout ?? '';
    if (scan.status !== 0 || !xml.includes('<document'))
      check('sslscan ran', [`exit ${scan.status}: ${(scan.stderr ?? '').slice(0, 300)}`]);
    else {
      const protocols = [...xml.matchAll(/<protocol [^>]*\/>/g)].map((m) => m[0]);
      const enabled = protocols
        .filter((p) => attr(p, 'enabled') === '1')
        .map((p) => `${attr(p, 'type')}${attr(p, 'version')}`);
      check('protocols: TLS 1.2 and 1.3 only', [
        ...enabled.filter((p) => !['tls1.2', 'tls1.3'].includes(p)).map((p) => `${p} enabled`),
        ...['tls1.2', 'tls1.3'].filter((p) => !enabled.includes(p)).map((p) => `${p} not enabled`),
      ]);
      const accepted = [...xml.matchAll(/<cipher [^>]*\/>/g)]
        .map((m) => m[0])
        .filter((c) => /status="(accepted|preferred)"/.test(c));
      suites = accepted.length;
      check(
        'every accepted suite an AEAD with forward secrecy',
        accepted.length === 0
          ? ['no accepted suite reported']
          : accepted
              .map((c) => attr(c, 'cipher') ?? '?')
              .filter((c) => !AEAD.test(c) || !FORWARD_SECRET.test(c))
              .map((c) => `accepted ${c}`),
      );
      const bad: string[] = [];
      if (/<compression supported="1"/.test(xml)) bad.push('TLS compression');
      if (/<renegotiation supported="1" secure="0"/.test(xml)) bad.push('insecure renegotiation');
      if (/<heartbleed [^>]*vulnerable="1"/.test(xml)) bad.push('heartbleed');
      check('no compression, insecure renegotiation or heartbleed', bad);
    }

    if (!opts.quick) {
      const json = path.join(inst.dir, 'testssl.json');
      spawnSync(
        'testssl',
        ['--quiet', '--color', '0', '--warnings', 'off', '--protocols', '--each-cipher', '--jsonfile', json, target],
        { encoding: 'utf8', timeout: 900_000 },
      );
      const judged = spawnSync(process.execPath, [path.join(ROOT, 'scripts/check-testssl.mjs'), json], {
        encoding: 'utf8',
      });
      check(
        'testssl (protocols, each cipher)',
        judged.status === 0 ? [] : [(judged.stderr || judged.stdout).trim().slice(0, 600)],
      );
    }

    // A new connection: the kept-alive one idled through testssl (a blocking child) and may be closed.
    const a = await inst.req('/api/v1/auth/me', { as: 'none', fresh: true });
    const hsts = String(a.headers['strict-transport-security'] ?? '');
    const maxAge = Number(/max-age=(\d+)/.exec(hsts)?.[1] ?? 0);
    check('HSTS of at least one year', maxAge >= 31_536_000 ? [] : [`strict-transport-security: "${hsts}"`]);

    const plain = await new Promise<{ status: number; location: string; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: httpPort, path: '/api/v1/auth/me?x=1', method: 'GET' },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, location: String(res.headers.location ?? ''), body }),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });
    check('the HTTP port redirects to HTTPS', [
      ...([301, 308].includes(plain.status) ? [] : [`status ${plain.status}`]),
      ...(/^https:\/\//.test(plain.location) ? [] : [`location "${plain.location}"`]),
      ...(/"(email|csrfToken|user)"/.test(plain.body) ? ['the plain answer carries API content'] : []),
    ]);
    const tried = checks.length;
    const passed = checks.filter((c) => c.problems.length === 0).length;
    return { tried, passed, failed: tried - passed, suites };
  } finally {
    await inst.close();
  }
}

if (isMain(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const res = await runTls({ quick });
  console.log(
    summary('tls', {
      tried: res.tried,
      passed: res.passed,
      failed: res.failed,
      suites: res.suites,
      testssl: quick ? 'skipped' : 'run',
    }),
  );
  process.exit(res.failed === 0 ? 0 : 1);
}
