/** The keys module's public face. */
export { createKeysService, type KeysService, type KeysState, type KeysStatus, type RewrapProgress, type InTransaction } from './keys.service.ts';
export { createWorkspaceKeys, type WorkspaceKeys } from './workspace-keys.ts';
export { SEALED_COLUMNS, type SealedColumn } from './sealed-columns.ts';
