/**
 * `sso.break-glass`: when a workspace enforces single sign-on, owners with a password and TOTP
 * keep a way in if the identity provider fails ("break glass"); every such sign-in is chained in
 * the audit trail with `breakGlass: true`. The control checks that
 * - the path exists where it is needed: SSO enforced and no active owner with a password and MFA
 *   is a `fail` (an identity-provider outage would lock everyone out);
 * - it is not being used as a side door: a break-glass sign-in in the last 30 days is a `warn`
 *   naming the accounts, when, and the audit seqs that record each use (to review them);
 * - otherwise `pass` (SSO not enforced: there is no break-glass path to watch).
 * Evidence: counts, emails of the workspace's own members, times, audit seqs — never a secret.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { fail, pass, warn, type CheckContext, type Control, type ControlResult } from '../posture/index.ts';
import { survey, worst, type WorkspaceSso } from './sso.posture-survey.ts';
import * as store from './sso.store.ts';

export const BREAK_GLASS_WINDOW_DAYS = 30;
const DAY_MS = 24 * 3600 * 1000;
const list = (xs: string[], n = 5) => xs.slice(0, n).concat(xs.length > n ? [`… ${xs.length - n} more`] : []);

async function judge(db: Kysely<Database>, w: WorkspaceSso, now: Date): Promise<ControlResult> {
  const owners = await store.breakGlassOwners(db, w.workspace);
  const uses = await store.breakGlassSignIns(
    db,
    w.workspace,
    new Date(now.getTime() - BREAK_GLASS_WINDOW_DAYS * DAY_MS),
  );
  const last = uses[0];
  const evidence = {
    enforced: w.enforced,
    breakGlassOwners: owners.length,
    signInsLast30Days: uses.length,
    lastSignIn: last ? new Date(last.time).toISOString() : null,
    accounts: list([...new Set(uses.map((u) => u.email))]),
    auditSeqs: list(uses.map((u) => String(u.seq))),
  };
  if (w.enforced && owners.length === 0)
    return fail(
      'single sign-on is enforced and no owner has a password with MFA: if the identity provider fails, nobody can sign in',
      evidence,
    );
  if (uses.length > 0)
    return warn(
      `${uses.length} break-glass sign-in(s) in the last ${BREAK_GLASS_WINDOW_DAYS} days (last ${evidence.lastSignIn}): review why single sign-on was bypassed`,
      evidence,
    );
  if (!w.enforced) return pass('single sign-on is not enforced: there is no break-glass path to watch', evidence);
  return pass(
    `${owners.length} owner(s) with MFA can break glass; no break-glass sign-in in the last ${BREAK_GLASS_WINDOW_DAYS} days`,
    evidence,
  );
}

export function breakGlassControl(deps: { db: Kysely<Database> }): Control {
  return {
    id: 'sso.break-glass',
    title: 'Break-glass access',
    promise:
      'Emergency access bypassing single sign-on exists only for owners with MFA, and every use of it is recorded and reviewed.',
    method: `Counts owners with a password and TOTP where SSO is enforced, and reads the audit trail for password sign-ins marked break-glass in the last ${BREAK_GLASS_WINDOW_DAYS} days.`,
    remedy:
      'Where SSO is enforced, keep at least one owner with a password and TOTP enrolled; review each listed sign-in (audit seq) and, if it was not an emergency, rotate that owner’s password.',
    scope: 'workspace',
    frameworks: { soc2: ['CC6.1', 'CC6.2'], iso27001: ['A.5.17', 'A.8.2', 'A.8.5'], pciDss: ['8.2.2', '10.2.1.2'] },
    async check(ctx: CheckContext): Promise<ControlResult> {
      const ws = await survey(deps.db, ctx);
      const results: { w: WorkspaceSso; r: ControlResult }[] = [];
      for (const w of ws) results.push({ w, r: await judge(deps.db, w, ctx.now) });
      return worst(ctx, results, ws.length);
    },
  };
}
