/**
 * The evidence exporter: a fresh posture run of a scope, signed into a pack with the audit
 * signing key, its HTML rendering, and the audit public key (PEM) to verify it with.
 */
import type { KeyObject } from 'node:crypto';
import { buildEvidencePack, renderEvidenceHtml, type EvidencePack } from './posture.evidence.ts';
import type { PostureService } from './posture.service.ts';

export interface EvidenceExporterDeps {
  posture: Pick<PostureService, 'run'>;
  /** The audit signing key (the audit module's `ensureKeys`). */
  signingKey(): Promise<{ keyId: string; privateKey: KeyObject; publicKey: KeyObject }>;
  /** The newest chained event's seq and hash (0 and the genesis hash when there is none). */
  auditHead(): Promise<{ seq: number; hash: string }>;
  installationId: string;
  clock?: () => Date;
}

export function createEvidenceExporter(deps: EvidenceExporterDeps) {
  const clock = deps.clock ?? (() => new Date());
  return async (scope: string): Promise<{ pack: EvidencePack; html: string; publicKeyPem: string }> => {
    const report = await deps.posture.run(scope);
    const key = await deps.signingKey();
    const pack = buildEvidencePack(
      { installationId: deps.installationId, generatedAt: clock(), auditHead: await deps.auditHead(), report },
      key,
    );
    const publicKeyPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    return { pack, html: renderEvidenceHtml(pack), publicKeyPem };
  };
}
