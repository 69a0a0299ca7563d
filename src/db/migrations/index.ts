/**
 * Every migration, in order. Names are fixed once released: the migrator records them in
 * `kysely_migration` and refuses to run when the database knows one this build does not.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001-init.ts';
import * as m0002 from './0002-keys.ts';
import * as m0003 from './0003-audit.ts';
import * as m0004 from './0004-identity.ts';
import * as m0005 from './0005-access.ts';
import * as m0006 from './0006-vault.ts';
import * as m0007 from './0007-drives.ts';
import * as m0008 from './0008-datasets.ts';
import * as m0009 from './0009-dataset-uploads.ts';
import * as m0010 from './0010-upload-leases.ts';
import * as m0012 from './0012-drive-checks.ts';
import * as m0014 from './0014-sso.ts';
import * as m0015 from './0015-backups.ts';
import * as m0016 from './0016-posture.ts';
import * as m0020 from './0020-retention.ts';
import * as m0019 from './0019-data-policies.ts';
import * as m0021 from './0021-profiles.ts';
import * as m0026 from './0026-auth-notify.ts';
import * as m0024 from './0024-key-versions-allowlists.ts';
import * as m0022 from './0022-scim.ts';
import * as m0027 from './0027-profile-lifecycle.ts';
import * as m0032 from './0032-policy-key-shred.ts';
import * as m0034 from './0034-backup-object-copies.ts';
import * as m0036 from './0036-profile-leases.ts';

export const migrations: Record<string, Migration> = {
  '0001-init': m0001,
  '0002-keys': m0002,
  '0003-audit': m0003,
  '0004-identity': m0004,
  '0005-access': m0005,
  '0006-vault': m0006,
  '0007-drives': m0007,
  '0008-datasets': m0008,
  '0009-dataset-uploads': m0009,
  '0010-upload-leases': m0010,
  '0012-drive-checks': m0012,
  '0014-sso': m0014,
  '0015-backups': m0015,
  '0016-posture': m0016,
  '0020-retention': m0020,
  '0019-data-policies': m0019,
  '0021-profiles': m0021,
  '0026-auth-notify': m0026,
  '0024-key-versions-allowlists': m0024,
  '0022-scim': m0022,
  '0027-profile-lifecycle': m0027,
  '0032-policy-key-shred': m0032,
  '0034-backup-object-copies': m0034,
  '0036-profile-leases': m0036,
};
