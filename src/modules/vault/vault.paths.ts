/** The barrier row id of a secret version (the path rules themselves are in src/contracts/vault.ts). */
export function sealIdOf(workspaceId: string, path: string, version: number): string {
  return `${workspaceId}/${path}#${version}`;
}
