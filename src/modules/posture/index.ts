/** The posture module's public face. Invariants: NOTES.md. */
export {
  createPostureRegistry,
  describeControl,
  pass,
  warn,
  fail,
  type Control,
  type ControlInfo,
  type ControlResult,
  type ControlStatus,
  type CheckContext,
  type Evidence,
  type FrameworkRefs,
  type PostureRegistry,
} from './posture.registry.ts';
export {
  createPostureService,
  type PostureService,
  type PostureReport,
  type ControlReport,
} from './posture.service.ts';
export {
  buildEvidencePack,
  verifyEvidencePack,
  renderEvidenceHtml,
  EVIDENCE_FORMAT,
  type EvidencePack,
  type PackVerdict,
} from './posture.evidence.ts';
export { createEvidenceExporter, type EvidenceExporterDeps } from './posture.export.ts';
export { postureRoutes, type PostureRoutesDeps } from './posture.routes.ts';
export { transportControls, type TransportDeps } from './controls.transport.ts';
export { keysControls, type KeysControlDeps } from './controls.keys.ts';
export { auditControls, type AuditControlDeps } from './controls.audit.ts';
export { platformControls, type PlatformDeps } from './controls.platform.ts';
export { accessControls, type AccessControlDeps } from './controls.access.ts';
export { scanProtocols, handshake, type TlsTarget, type ProbeTrust } from './tls-probe.ts';
export { readCertificateFile, parseCertificatePem, type CertificateFacts } from './cert-file.ts';
export { networkControls, type NetworkControlDeps } from './controls.network.ts';
