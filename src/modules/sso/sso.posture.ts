/**
 * The posture controls of single sign-on, read from the sso store: is SSO configured for the
 * workspace (an enabled provider mapped to its roles, signing in without errors), is it
 * enforced (passwords refused for SSO users, break-glass owners excepted), and is the break-glass
 * path there and unused (`sso.break-glass`, in sso.break-glass.ts).
 *
 * `workspace` controls: given a workspace they look only at it; the operator's run looks at
 * every workspace and names them. Evidence: provider ids and counts — never a secret or setting.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import { fail, pass, warn, type CheckContext, type Control, type ControlResult } from '../posture/index.ts';
import { breakGlassControl } from './sso.break-glass.ts';
import { survey, worst, type WorkspaceSso } from './sso.posture-survey.ts';

export interface SsoControlDeps {
  db: Kysely<Database>;
}

function configured(w: WorkspaceSso): ControlResult {
  const evidence = { providers: w.working, brokenProviders: w.broken };
  if (w.broken.length > 0) return fail(`mapped provider(s) disabled or failing: ${w.broken.join(', ')}`, evidence);
  if (w.working.length === 0)
    return warn('no single sign-on provider is mapped: people sign in with passwords', evidence);
  return pass(`${w.working.length} provider(s) mapped and working: ${w.working.join(', ')}`, evidence);
}

function enforced(w: WorkspaceSso): ControlResult {
  const evidence = { enforced: w.enforced, providers: w.working };
  if (w.enforced && w.working.length === 0)
    return fail(
      'single sign-on is enforced but no working provider is mapped: only break-glass owners can sign in',
      evidence,
    );
  if (!w.enforced)
    return warn(
      w.working.length > 0
        ? 'single sign-on is configured but not enforced: SSO users may still sign in with a password'
        : 'single sign-on is not enforced (none is configured)',
      evidence,
    );
  return pass('single sign-on is enforced; passwords only for break-glass owners with MFA', evidence);
}

export function ssoControls(deps: SsoControlDeps): Control[] {
  const check = (judge: (w: WorkspaceSso) => ControlResult) => async (ctx: CheckContext) => {
    const ws = await survey(deps.db, ctx);
    return worst(
      ctx,
      ws.map((w) => ({ w, r: judge(w) })),
      ws.length,
    );
  };
  return [
    {
      id: 'sso.configured',
      title: 'Single sign-on configured',
      promise: 'People sign in through the organisation’s identity provider, so leavers lose access in one place.',
      method:
        'Reads the workspace’s SSO role mappings and the providers they name: enabled, and no error recorded at their last sign-in or discovery.',
      remedy:
        'Ask the operator to add your identity provider (strongroom sso add …), then map its groups to roles in Users & Roles → Single sign-on; fix or remove a provider that reports an error.',
      scope: 'workspace',
      frameworks: { soc2: ['CC6.1', 'CC6.2'], iso27001: ['A.5.16', 'A.8.5'], pciDss: ['8.2.1'] },
      check: check(configured),
    },
    {
      id: 'sso.enforced',
      title: 'Single sign-on enforced',
      promise: 'Members who have an SSO identity cannot bypass it with a password.',
      method:
        'Reads the workspace’s enforcement setting and whether a working provider is mapped (enforcement without one leaves only break-glass owners).',
      remedy:
        'Turn on “Require single sign-on” for the workspace once a provider is mapped; keep one owner with MFA as break-glass.',
      scope: 'workspace',
      frameworks: { soc2: ['CC6.1'], iso27001: ['A.5.17', 'A.8.5'], pciDss: ['8.3.1'] },
      check: check(enforced),
    },
    breakGlassControl(deps),
  ];
}
