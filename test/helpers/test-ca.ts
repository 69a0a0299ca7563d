/**
 * A throwaway certificate authority made with the `openssl` command: a CA and leaf certificates
 * for loopback peers (syslog receivers, webhook receivers, listeners with a CA-issued certificate).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCa {
  dir: string;
  caFile: string;
  caPem: string;
  /** Issues a server certificate for localhost/127.0.0.1 (or, `client`, a client certificate with CN=`name`) valid `days` days. */
  issue(
    name: string,
    days?: number,
    opts?: { client?: boolean },
  ): { certFile: string; keyFile: string; cert: string; key: string };
  remove(): void;
}

const run = (args: string[], cwd: string) =>
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

export function createTestCa(): TestCa {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'strongroom-ca-'));
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  run(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      '30',
      '-subj',
      '/CN=Strongroom Test CA',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  return {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    caPem: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    issue(name, days = 30, opts = {}) {
      run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`], dir);
      run(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`], dir);
      writeFileSync(
        path.join(dir, `${name}.ext`),
        opts.client
          ? 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n'
          : 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
      );
      const validity = ['-days', String(days)];
      run(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-sha256',
          ...validity,
          '-extfile',
          `${name}.ext`,
          '-out',
          `${name}.pem`,
        ],
        dir,
      );
      return {
        certFile: path.join(dir, `${name}.pem`),
        keyFile: path.join(dir, `${name}.key`),
        cert: readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
        key: readFileSync(path.join(dir, `${name}.key`), 'utf8'),
      };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
