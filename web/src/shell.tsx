/**
 * The signed-in frame: navigation (only what the current roles can use), "signed in as", the
 * workspace switcher and sign out. Keyboard: a skip link jumps to the page content.
 */
import type { ReactNode } from 'react';
import { Link, navigate, useLocation } from './lib/router.tsx';
import { usePermissions, useSession } from './lib/session.tsx';
import { icons } from './ui/icons.tsx';
import { Logo } from './ui/logo.tsx';
import { Notice, ui } from './ui/components.tsx';
import css from './shell.module.css';

export function Shell({ children }: { children: ReactNode }) {
  const { me, workspace, setWorkspace, signOut } = useSession();
  const can = usePermissions();
  const { segments } = useLocation();
  const here = segments[0] ?? 'datasets';
  const items: { key: keyof typeof icons; label: string; show: boolean }[] = [
    { key: 'drives', label: 'Data Store', show: can.metadata },
    { key: 'datasets', label: 'Datasets', show: true },
    { key: 'query', label: 'Query', show: can.readData },
    { key: 'vault', label: 'Vault', show: can.metadata },
    { key: 'audit', label: 'Audit', show: can.audit },
    { key: 'security', label: 'Security', show: can.audit },
    { key: 'tasks', label: 'Tasks', show: can.audit },
    { key: 'users', label: 'Users & roles', show: can.admin },
    { key: 'policies', label: 'Data policies', show: can.readPolicies },
    { key: 'sso', label: 'Single sign-on', show: can.admin },
    // Installation-wide (operator token); offered to those who administer a workspace.
    { key: 'backups', label: 'Backups', show: can.admin },
    { key: 'retention', label: 'Retention', show: can.admin },
    { key: 'rules', label: 'Access rules', show: can.audit },
    { key: 'account', label: 'Your account', show: true },
  ];
  return (
    <div className={css.shell}>
      <a className={css.skip} href="#content">
        Skip to content
      </a>
      <aside className={css.side}>
        <Link to="/datasets" className={css.brand}>
          <Logo className={css.logo} /> Strongroom
        </Link>
        <nav className={css.nav} aria-label="Main">
          {items
            .filter((i) => i.show)
            .map((i) => (
              <Link
                key={i.key}
                to={`/${i.key}`}
                className={`${css.link} ${here === i.key ? css.active : ''}`}
                aria-current={here === i.key ? 'page' : undefined}
              >
                {icons[i.key](css.icon)} {i.label}
              </Link>
            ))}
        </nav>
        <div className={css.sideFoot}>Every action here is recorded in the audit trail.</div>
      </aside>
      <div className={css.main}>
        <header className={css.top}>
          <div className={css.wsPick}>
            <label htmlFor="ws-switch" className={ui.label}>
              Workspace
            </label>
            <select id="ws-switch" value={workspace?.id ?? ''} onChange={(e) => setWorkspace(e.target.value)}>
              {me?.workspaces.map((w) => (
                <option key={w.id} value={w.id}>
                  {w.name === w.id ? w.id : `${w.name} (${w.id})`}
                </option>
              ))}
            </select>
            <span className={ui.badge}>{workspace?.roles.join(', ')}</span>
          </div>
          <div className={css.who}>
            <span data-testid="signed-in-as">
              Signed in as <strong>{me?.user.email}</strong>
            </span>
            <button
              className={`${ui.button} ${ui.small}`}
              onClick={async () => {
                await signOut();
                navigate('/', { replace: true });
              }}
            >
              Sign out
            </button>
          </div>
        </header>
        <main id="content" className={css.content} tabIndex={-1}>
          {me?.strength === 'password+recovery-code' ? (
            <Notice kind="warn" title="You signed in with a recovery code">
              <span data-testid="recovery-codes-left-notice">
                {me.recoveryCodesLeft ?? 0} left. If your authenticator is lost,{' '}
                <Link to="/account">reset MFA and get new recovery codes</Link> on Your account.
              </span>
            </Notice>
          ) : null}
          {children}
        </main>
      </div>
    </div>
  );
}
