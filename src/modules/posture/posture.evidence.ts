/**
 * Evidence packs: every control of a posture report with its evidence, the installation id and
 * the audit head, signed with the audit signing key (Ed25519) so an auditor can take the file away
 * and check it offline against the exported audit public key.
 *
 * Signed bytes: `"strongroom/evidence-pack/v1" ‖ 0x00 ‖ canonical JSON of the pack without its
 * `signature` member` (the canonical form of src/core/audit/canonical.ts, as for checkpoints).
 * Any change to any field — a status, a number, a date — breaks the signature.
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalBytes } from '../../core/audit/canonical.ts';
import type { PostureReport } from './posture.service.ts';

export const EVIDENCE_FORMAT = 'strongroom/evidence-pack/v1';

export interface EvidencePack {
  format: typeof EVIDENCE_FORMAT;
  installationId: string;
  generatedAt: string;
  /** 'installation' or `workspace:<id>`. */
  scope: string;
  auditHead: { seq: number; hash: string };
  report: PostureReport;
  note: string;
  signature: { alg: 'Ed25519'; keyId: string; value: string };
}

export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
}

function signingInput(unsigned: Omit<EvidencePack, 'signature'>): Buffer {
  return Buffer.concat([Buffer.from(EVIDENCE_FORMAT, 'utf8'), Buffer.from([0]), canonicalBytes(unsigned)]);
}

export function buildEvidencePack(
  input: { installationId: string; generatedAt: Date; auditHead: { seq: number; hash: string }; report: PostureReport },
  key: SigningKey,
): EvidencePack {
  const unsigned: Omit<EvidencePack, 'signature'> = {
    format: EVIDENCE_FORMAT,
    installationId: input.installationId,
    generatedAt: input.generatedAt.toISOString(),
    scope: input.report.scope ? `workspace:${input.report.scope}` : 'installation',
    auditHead: input.auditHead,
    // Round-trip through JSON: the signed form is exactly what a reader parses back.
    report: JSON.parse(JSON.stringify(input.report)) as PostureReport,
    note: 'Framework references map each control to requirements it gives evidence for; they are not a certification.',
  };
  const value = sign(null, signingInput(unsigned), key.privateKey).toString('hex');
  return { ...unsigned, signature: { alg: 'Ed25519', keyId: key.keyId, value } };
}

export interface PackVerdict {
  ok: boolean;
  problems: string[];
  keyId?: string;
}

/** Checks a parsed pack against an Ed25519 public key (PEM/SPKI). Never throws for bad input. */
export function verifyEvidencePack(pack: unknown, publicKeyPem: string): PackVerdict {
  const problems: string[] = [];
  if (typeof pack !== 'object' || pack === null || Array.isArray(pack))
    return { ok: false, problems: ['not a JSON object'] };
  const p = pack as Partial<EvidencePack>;
  if (p.format !== EVIDENCE_FORMAT) problems.push(`format is not ${EVIDENCE_FORMAT}`);
  const sig = p.signature;
  if (!sig || sig.alg !== 'Ed25519' || typeof sig.value !== 'string' || !/^[0-9a-f]{128}$/.test(sig.value))
    return { ok: false, problems: [...problems, 'no Ed25519 signature'] };
  let key: KeyObject;
  try {
    key = createPublicKey(publicKeyPem);
    if (key.asymmetricKeyType !== 'ed25519')
      return { ok: false, problems: [...problems, 'the public key is not Ed25519'] };
  } catch {
    return { ok: false, problems: [...problems, 'the public key file is not a PEM public key'] };
  }
  const { signature: _s, ...unsigned } = p as EvidencePack;
  let good = false;
  try {
    good = verify(null, signingInput(unsigned), key, Buffer.from(sig.value, 'hex'));
  } catch {
    good = false;
  }
  if (!good) problems.push('the signature does not match the content (altered, or signed by another key)');
  return { ok: problems.length === 0, problems, keyId: sig.keyId };
}

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

/** A readable, self-contained HTML report of a pack (no scripts, no external resources). */
export function renderEvidenceHtml(pack: EvidencePack): string {
  const rows = pack.report.controls
    .map((c) => {
      const fw = Object.entries(c.frameworks)
        .map(([k, v]) => `${esc(k)}: ${esc((v as string[]).join(', '))}`)
        .join('<br>');
      const ev = Object.entries(c.evidence)
        .map(([k, v]) => `<div><b>${esc(k)}</b>: ${esc(Array.isArray(v) ? v.join(', ') : v)}</div>`)
        .join('');
      return `<tr class="${esc(c.status)}"><td>${esc(c.status.toUpperCase())}</td><td><b>${esc(c.title)}</b><br><code>${esc(c.id)}</code><p>${esc(c.promise)}</p></td><td>${esc(c.summary)}<p><i>${esc(c.method)}</i></p>${ev}</td><td>${fw}</td><td>${c.status === 'pass' ? '' : esc(c.remedy)}</td></tr>`;
    })
    .join('\n');
  const { pass, warn, fail } = pack.report.counts;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Strongroom security evidence ${esc(pack.generatedAt)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:.4rem;vertical-align:top;text-align:left}
tr.pass td:first-child{color:#116b2f}tr.warn td:first-child{color:#8a5a00}tr.fail td:first-child{color:#a11}code{font-size:12px}</style></head>
<body><h1>Strongroom security evidence</h1>
<p>Installation <code>${esc(pack.installationId)}</code>, ${esc(pack.scope)}; generated ${esc(pack.generatedAt)}; audit head seq ${esc(pack.auditHead.seq)} (<code>${esc(pack.auditHead.hash)}</code>).</p>
<p>${pass} passed, ${warn} warnings, ${fail} failed. Signed with audit key <code>${esc(pack.signature.keyId)}</code>; check the JSON file with <code>strongroom evidence verify evidence.json --public-key audit-public-key.pem</code>. This page is a rendering: the signed JSON is the evidence.</p>
<p>${esc(pack.note)}</p>
<table><thead><tr><th>Status</th><th>Control and promise</th><th>Finding and evidence</th><th>Frameworks</th><th>To fix</th></tr></thead><tbody>
${rows}
</tbody></table></body></html>
`;
}
