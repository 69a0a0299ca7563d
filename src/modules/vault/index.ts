/** The vault module's public face (C6). Other modules read credentials with `readSecretValue`. */
export {
  createVaultService,
  type VaultService,
  type VaultDeps,
  type WriteInput,
  type WriteResult,
  type RevealedValue,
  type DueItem,
} from './vault.service.ts';
export { type SecretMetadata, type SecretSummary, type VersionInfo } from './vault.metadata.ts';
export { prepareValue, type SecretValue } from './vault.values.ts';
export { sealIdOf } from './vault.paths.ts';
export { vaultRoutes, type VaultRoutesDeps } from './vault.routes.ts';
