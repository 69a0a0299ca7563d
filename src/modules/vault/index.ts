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
export {
  metadataInputSchema,
  type MetadataInput,
  type SecretMetadata,
  type SecretSummary,
  type VersionInfo,
} from './vault.metadata.ts';
export {
  VALUE_SCHEMAS,
  SECRET_TYPES,
  typedValueVariants,
  prepareValue,
  type SecretType,
  type SecretValue,
} from './vault.values.ts';
export {
  secretPathSchema,
  secretPrefixSchema,
  pathProblem,
  sealIdOf,
  MAX_PATH_LENGTH,
  MAX_PATH_DEPTH,
  MAX_SEGMENT_LENGTH,
  MAX_VALUE_BYTES,
  MAX_VERSIONS_LIMIT,
  DEFAULT_MAX_VERSIONS,
  MAX_TAGS,
  MAX_CUSTOM_FIELDS,
} from './vault.paths.ts';
export { vaultRoutes, type VaultRoutesDeps } from './vault.routes.ts';
