/**
 * The checks behind `strongroom doctor`. Each returns pass/warn/fail with evidence a person can
 * verify. They read the data directory and probe the running server; they never change anything.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../core/config.ts';
import { openDatabase, pingDatabase } from '../db/database.ts';
import { explainPgConnectError } from '../db/connection-options.ts';
import { lockHolder } from '../db/dir-lock.ts';
import { migrationStatus } from '../db/migrate.ts';
import { databaseSpec, tlsFilesFor } from '../installation/home.ts';
import { HSTS_VALUE, loadTlsMaterial, type TlsMaterial } from '../installation/tls.ts';
import { createBarrier } from '../core/crypto/barrier.ts';
import { createVaultService } from '../modules/vault/index.ts';
import { rootKeyProviderFor } from '../installation/root-key.ts';
import { probeHttps, type ProbeResult } from './probe.ts';
import { connectToServer } from './server-link.ts';

export interface Check {
  name: string;
  status: 'pass' | 'warn' | 'fail';
  evidence: string;
}

const DAY = 24 * 3600 * 1000;

async function checkDataDir(home: string): Promise<Check> {
  const name = 'data-dir';
  try {
    const s = await stat(home);
    if (!s.isDirectory()) return { name, status: 'fail', evidence: `${home} is not a directory` };
    const mode = (s.mode & 0o777).toString(8).padStart(3, '0');
    if ((s.mode & 0o077) !== 0)
      return { name, status: 'fail', evidence: `${home} is mode ${mode}; it must be 0700 (chmod 700 ${home})` };
    if (typeof process.getuid === 'function' && s.uid !== process.getuid()) {
      return {
        name,
        status: 'warn',
        evidence: `${home} is owned by uid ${s.uid}, not the current user (${process.getuid()})`,
      };
    }
    return { name, status: 'pass', evidence: `${home} is mode ${mode}, owned by the current user` };
  } catch {
    return { name, status: 'fail', evidence: `${home} does not exist; run 'strongroom init'` };
  }
}

async function checkTls(config: Config): Promise<{ check: Check; material?: TlsMaterial }> {
  const name = 'tls-certificate';
  const files = tlsFilesFor(config);
  let material: TlsMaterial;
  try {
    material = await loadTlsMaterial(files);
  } catch (err) {
    return { check: { name, status: 'fail', evidence: `cannot load ${files.certFile}: ${(err as Error).message}` } };
  }
  const keyMode = (await stat(files.keyFile)).mode & 0o777;
  const left = Math.floor((material.notAfter.getTime() - Date.now()) / DAY);
  if (left < 0)
    return {
      material,
      check: { name, status: 'fail', evidence: `certificate expired on ${material.notAfter.toISOString()}` },
    };
  if ((keyMode & 0o077) !== 0) {
    return {
      material,
      check: {
        name,
        status: 'fail',
        evidence: `private key ${files.keyFile} is mode ${keyMode.toString(8)}; it must be 0600`,
      },
    };
  }
  if (left < 30)
    return {
      material,
      check: {
        name,
        status: 'warn',
        evidence: `certificate expires in ${left} days (${material.notAfter.toISOString()})`,
      },
    };
  if (files.selfSigned) {
    return {
      material,
      check: {
        name,
        status: 'warn',
        evidence: `self-signed certificate valid for ${left} more days; fine for local use, set STRONGROOM_TLS_CERT_FILE/KEY_FILE for production`,
      },
    };
  }
  return {
    material,
    check: { name, status: 'pass', evidence: `${material.subject.replace(/\n/g, ', ')} valid for ${left} more days` },
  };
}

function probeUrl(config: Config): { url: string; servername: string } {
  const host = ['0.0.0.0', '::'].includes(config.STRONGROOM_BIND) ? '127.0.0.1' : config.STRONGROOM_BIND;
  const servername = config.STRONGROOM_PUBLIC_URL ? new URL(config.STRONGROOM_PUBLIC_URL).hostname : 'localhost';
  const h = host.includes(':') ? `[${host}]` : host;
  return { url: `https://${h}:${config.STRONGROOM_HTTPS_PORT}/readyz`, servername };
}

function checksFromProbe(probe: ProbeResult | Error): Check[] {
  if (probe instanceof Error) {
    const evidence = `server not reachable (${probe.message}); start it with 'strongroom serve' to check the live listener`;
    return [
      { name: 'tls-listener', status: 'warn', evidence },
      { name: 'hsts', status: 'warn', evidence: 'not checked: server not reachable' },
    ];
  }
  const modern = probe.protocol === 'TLSv1.3' || probe.protocol === 'TLSv1.2';
  const hsts = probe.headers['strict-transport-security'];
  return [
    {
      name: 'tls-listener',
      status: modern ? 'pass' : 'fail',
      evidence: `negotiated ${probe.protocol} with ${probe.cipher}; TLS 1.0/1.1 refused by configuration`,
    },
    {
      name: 'hsts',
      status: hsts === HSTS_VALUE ? 'pass' : 'fail',
      evidence: hsts ? `Strict-Transport-Security: ${String(hsts)}` : 'no Strict-Transport-Security header',
    },
  ];
}

async function checkDatabase(config: Config, probe: ProbeResult | Error): Promise<Check> {
  const name = 'database';
  if (!config.DATABASE_URL) {
    const pid = await lockHolder(path.join(config.STRONGROOM_HOME, 'db.lock'));
    if (pid !== undefined) {
      if (probe instanceof Error)
        return {
          name,
          status: 'fail',
          evidence: `embedded database held by pid ${pid}, but its server does not answer`,
        };
      if (probe.status === 503 && probe.body.includes('"SEALED"'))
        return {
          name,
          status: 'pass',
          evidence: `embedded PGlite in use by the running server (pid ${pid}), which is sealed`,
        };
      return probe.status === 200
        ? {
            name,
            status: 'pass',
            evidence: `embedded PGlite in use by the running server (pid ${pid}); /readyz: ${probe.body}`,
          }
        : { name, status: 'fail', evidence: `running server reports not ready: ${probe.body.slice(0, 200)}` };
    }
  }
  let handle;
  try {
    handle = await openDatabase(databaseSpec(config));
    await pingDatabase(handle.db);
    const m = await migrationStatus(handle.db as never);
    if (m.unknown.length > 0)
      return {
        name,
        status: 'fail',
        evidence: `${handle.summary}: migrations from a newer build (${m.unknown.join(', ')})`,
      };
    if (m.applied === 0) return { name, status: 'warn', evidence: `${handle.summary}: empty; run 'strongroom init'` };
    if (m.pending.length > 0)
      return {
        name,
        status: 'warn',
        evidence: `${handle.summary}: ${m.pending.length} migration(s) pending (applied at next start)`,
      };
    const cc = handle.clientCertificate;
    const certNote = cc ? `; client certificate ${cc.subject} valid until ${cc.notAfter.toISOString()}` : '';
    if (cc && cc.notAfter.getTime() - Date.now() < 30 * DAY)
      return { name, status: 'warn', evidence: `${handle.summary}: reachable${certNote} (expires within 30 days)` };
    return {
      name,
      status: 'pass',
      evidence: `${handle.summary}: reachable, ${m.applied} migration(s) applied${certNote}`,
    };
  } catch (err) {
    return {
      name,
      status: 'fail',
      evidence: `cannot use the database: ${explainPgConnectError(err) ?? (err as Error).message}`,
    };
  } finally {
    await handle?.close();
  }
}

async function checkRootKey(config: Config): Promise<Check> {
  const name = 'root-key';
  try {
    const provider = rootKeyProviderFor(config);
    const d = await provider.describe();
    if (d.ok === false)
      return { name, status: 'fail', evidence: `${provider.kind}: ${String(d.problem ?? d.reason ?? 'unusable')}` };
    if (d.initialized === false)
      return {
        name,
        status: 'warn',
        evidence: `${provider.kind}: not created yet (first start or 'strongroom init' creates it)`,
      };
    const where =
      provider.kind === 'file'
        ? 'a 0600 file in the data directory (protect the disk; an HSM or Shamir shares keep it off disk)'
        : provider.kind === 'pkcs11'
          ? 'wrapped by a non-extractable HSM key'
          : 'split into Shamir shares held by operators';
    return {
      name,
      status: provider.kind === 'file' ? 'warn' : 'pass',
      evidence: `${provider.kind}: root key ${where}`,
    };
  } catch (err) {
    return { name, status: 'fail', evidence: (err as Error).message };
  }
}

/** Seal state and audit chain, asked of the running server (operator credential). */
async function checkLive(config: Config): Promise<Check[]> {
  const client = await connectToServer(config).catch(() => undefined);
  if (!client)
    return [
      {
        name: 'audit-chain',
        status: 'warn',
        evidence: "server not running: verify offline with 'strongroom audit verify'",
      },
    ];
  const seal = await client.sys.sealStatus();
  const checks: Check[] = [
    {
      name: 'seal',
      status: seal.sealed ? 'warn' : 'pass',
      evidence: seal.sealed ? 'the server is SEALED: unseal it to serve requests' : 'unsealed; keys in memory only',
    },
  ];
  if (seal.sealed) return checks;
  try {
    const r = await client.auditTrail.verify();
    checks.push(
      r.ok
        ? {
            name: 'audit-chain',
            status: 'pass',
            evidence: `chain, signatures and export verified: ${r.eventsChecked} events, head at seq ${r.headSeq}`,
          }
        : {
            name: 'audit-chain',
            status: 'fail',
            evidence: `${r.problems.length} problem(s), first: ${r.problems[0]?.kind} at seq ${r.problems[0]?.seq ?? '?'}: ${r.problems[0]?.detail}`,
          },
    );
  } catch (err) {
    checks.push({ name: 'audit-chain', status: 'fail', evidence: `cannot verify: ${(err as Error).message}` });
  }
  return checks;
}

/** Secrets that are expired or overdue for rotation (fail) or due within 14 days (warn). */
async function checkSecretsDue(config: Config): Promise<Check> {
  const name = 'secrets-due';
  if (!config.DATABASE_URL) {
    const pid = await lockHolder(path.join(config.STRONGROOM_HOME, 'db.lock'));
    if (pid !== undefined)
      return {
        name,
        status: 'warn',
        evidence:
          'the server holds the embedded database: see GET /api/v1/workspaces/<ws>/secrets-due (signed in), or stop it and rerun',
      };
  }
  let handle;
  try {
    handle = await openDatabase(databaseSpec(config));
    const vault = createVaultService({ db: handle.db, barrier: createBarrier() }); // metadata only: nothing is opened
    const workspaces = await handle.db.selectFrom('workspaces').select('id').execute();
    const items = (
      await Promise.all(
        workspaces.map(async (w) =>
          (await vault.due(handle!.db, w.id, 14 * 24 * 3600)).map((d) => ({ ws: w.id, ...d })),
        ),
      )
    ).flat();
    const overdue = items.filter((d) =>
      d.reasons.some((r) => r === 'expired' || r === 'rotation-overdue' || r === 'certificate-expired'),
    );
    if (overdue.length > 0)
      return {
        name,
        status: 'fail',
        evidence: `${overdue.length} secret(s) expired or overdue: ${overdue
          .slice(0, 5)
          .map((d) => `${d.ws}/${d.path} (${d.reasons.join(', ')})`)
          .join('; ')}`,
      };
    if (items.length > 0)
      return {
        name,
        status: 'warn',
        evidence: `${items.length} secret(s) due within 14 days: ${items
          .slice(0, 5)
          .map((d) => `${d.ws}/${d.path}`)
          .join('; ')}`,
      };
    return { name, status: 'pass', evidence: `no secret expired or overdue in ${workspaces.length} workspace(s)` };
  } catch (err) {
    return { name, status: 'warn', evidence: `not checked: ${(err as Error).message}` };
  } finally {
    await handle?.close();
  }
}

export async function runDoctor(config: Config): Promise<Check[]> {
  const dataDir = await checkDataDir(config.STRONGROOM_HOME);
  const tls = await checkTls(config);
  const { url, servername } = probeUrl(config);
  const probe = await probeHttps(url, { extraCa: tls.material?.cert, servername }).catch((e: Error) => e);
  const database = await checkDatabase(config, probe);
  const rootKey = await checkRootKey(config);
  return [
    dataDir,
    tls.check,
    ...checksFromProbe(probe),
    database,
    rootKey,
    ...(await checkLive(config)),
    await checkSecretsDue(config),
  ];
}
