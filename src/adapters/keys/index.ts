/**
 * Root-key providers: the public face of `adapters/keys`. Pick one with
 * {@link createRootKeyProvider}; see provider.ts for the guarantees every provider keeps.
 *
 * @example
 * const provider = createRootKeyProvider({ kind: 'file', dataDir: config.STRONGROOM_HOME });
 * const rootKey = await provider.load(); // undefined → start sealed (shamir)
 */
import { FileRootKeyProvider } from './file/file-provider.ts';
import type { FileRootKeyProviderOptions } from './file/file-provider.ts';
import { Pkcs11RootKeyProvider } from './pkcs11/pkcs11-provider.ts';
import type { Pkcs11RootKeyProviderOptions } from './pkcs11/pkcs11-provider.ts';
import type { RootKeyProvider } from './provider.ts';
import { ShamirRootKeyProvider } from './shamir/shamir-provider.ts';
import type { ShamirRootKeyProviderOptions } from './shamir/shamir-provider.ts';

export type { InitializeResult, RootKeyProvider } from './provider.ts';
export { ROOT_KEY_BYTES } from './provider.ts';
export type { KeyErrorReason } from './key-errors.ts';
export { keyErrorReason } from './key-errors.ts';
export { FileRootKeyProvider } from './file/file-provider.ts';
export { ShamirRootKeyProvider } from './shamir/shamir-provider.ts';
export { Unsealer } from './shamir/shamir-unsealer.ts';
export type { UnsealProgress } from './shamir/shamir-unsealer.ts';
export { Pkcs11RootKeyProvider } from './pkcs11/pkcs11-provider.ts';
export type { FileRootKeyProviderOptions, Pkcs11RootKeyProviderOptions, ShamirRootKeyProviderOptions };

/** Configuration of one root-key provider, discriminated by `kind`. */
export type RootKeyProviderConfig =
  | ({ kind: 'file' } & FileRootKeyProviderOptions)
  | ({ kind: 'shamir' } & ShamirRootKeyProviderOptions)
  | ({ kind: 'pkcs11' } & Pkcs11RootKeyProviderOptions);

/** Build the configured provider. Validates options (BAD_REQUEST `INVALID_CONFIG`); no I/O. */
export function createRootKeyProvider(config: RootKeyProviderConfig): RootKeyProvider {
  switch (config.kind) {
    case 'file':
      return new FileRootKeyProvider(config);
    case 'shamir':
      return new ShamirRootKeyProvider(config);
    case 'pkcs11':
      return new Pkcs11RootKeyProvider(config);
  }
}
