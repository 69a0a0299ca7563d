/** The barrier row id of a secret version (the path rules themselves are in src/contracts/vault.ts). */
export function sealIdOf(workspace: string, path: string, version: number): string {
  return `${workspace}/${path}#${version}`;
}
