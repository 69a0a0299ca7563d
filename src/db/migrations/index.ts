/**
 * Every migration, in order. Names are fixed once released: the migrator records them in
 * `kysely_migration` and refuses to run when the database knows one this build does not.
 */
import type { Migration } from 'kysely';
import * as m0001 from './0001-init.ts';

export const migrations: Record<string, Migration> = {
  '0001-init': m0001,
};
