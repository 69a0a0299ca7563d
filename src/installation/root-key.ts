/**
 * Which root key provider a data directory uses. The choice is made at init and recorded by the
 * provider's own state file; at later starts the state file on disk wins over configuration, so
 * a changed variable can never silently create a second root key.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../core/config.ts';
import { createRootKeyProvider, type RootKeyProvider } from '../adapters/keys/index.ts';

export function detectProviderKind(config: Config): Config['STRONGROOM_ROOT_KEY_PROVIDER'] {
  const home = config.STRONGROOM_HOME;
  if (existsSync(path.join(home, 'root-key.shamir.json'))) return 'shamir';
  if (existsSync(path.join(home, 'root-key.pkcs11.json'))) return 'pkcs11';
  if (existsSync(config.STRONGROOM_ROOT_KEY_FILE ?? path.join(home, 'root.key'))) return 'file';
  return config.STRONGROOM_ROOT_KEY_PROVIDER;
}

export function rootKeyProviderFor(config: Config): RootKeyProvider {
  const dataDir = config.STRONGROOM_HOME;
  const kind = detectProviderKind(config);
  switch (kind) {
    case 'file':
      return createRootKeyProvider({
        kind,
        dataDir,
        ...(config.STRONGROOM_ROOT_KEY_FILE ? { keyFile: config.STRONGROOM_ROOT_KEY_FILE } : {}),
      });
    case 'shamir':
      return createRootKeyProvider({
        kind,
        dataDir,
        shares: config.STRONGROOM_SHAMIR_SHARES,
        threshold: config.STRONGROOM_SHAMIR_THRESHOLD,
      });
    case 'pkcs11':
      if (!config.STRONGROOM_PKCS11_MODULE || !config.STRONGROOM_PKCS11_TOKEN_LABEL || !config.STRONGROOM_PKCS11_PIN) {
        throw new Error(
          'this data directory uses an HSM root key: set STRONGROOM_PKCS11_MODULE, STRONGROOM_PKCS11_TOKEN_LABEL and STRONGROOM_PKCS11_PIN',
        );
      }
      return createRootKeyProvider({
        kind,
        dataDir,
        modulePath: config.STRONGROOM_PKCS11_MODULE,
        tokenLabel: config.STRONGROOM_PKCS11_TOKEN_LABEL,
        pin: config.STRONGROOM_PKCS11_PIN,
        keyLabel: config.STRONGROOM_PKCS11_KEY_LABEL,
      });
  }
}
