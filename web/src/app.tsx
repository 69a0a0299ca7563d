/** The console: first run or sign-in gate, MFA enrolment gate, then the page the URL names. */
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from './lib/api.ts';
import { Link, useLocation } from './lib/router.tsx';
import { useSession } from './lib/session.tsx';
import { Shell } from './shell.tsx';
import { SignIn } from './pages/signin.tsx';
import { FirstRun } from './pages/first-run.tsx';
import { RulesPage } from './pages/rules.tsx';
import { MfaEnrolScreen } from './pages/mfa-enrol.tsx';
import { DrivesPage } from './pages/drives.tsx';
import { DrivePage } from './pages/drive-page.tsx';
import { MountWizard } from './pages/mount-wizard.tsx';
import { DatasetsPage } from './pages/datasets.tsx';
import { DatasetPage } from './pages/dataset-page.tsx';
import { VaultPage } from './pages/vault.tsx';
import { AuditPage } from './pages/audit.tsx';
import { UsersPage } from './pages/users.tsx';
import { AccountPage } from './pages/account.tsx';
import { SecurityPage } from './pages/security.tsx';
import { TasksPage } from './pages/tasks.tsx';
import { SsoPage } from './pages/sso.tsx';
import { BackupsPage } from './pages/backups.tsx';
import { RetentionPage } from './pages/retention.tsx';
import { QueryPage } from './pages/query-page.tsx';
import { PoliciesPage } from './pages/policies.tsx';
import { Empty, Loading, Notice } from './ui/components.tsx';

/** The page an address names, or undefined: each page takes exactly the sub-paths it knows. */
function pageFor(segments: string[]) {
  const [top = 'datasets', second, ...rest] = segments;
  if (rest.length > 0) return undefined;
  const single = second === undefined;
  switch (top) {
    case 'drives':
      return single ? <DrivesPage /> : second === 'new' ? <MountWizard /> : <DrivePage name={second} />;
    case 'datasets':
      return single ? <DatasetsPage /> : <DatasetPage name={second} />;
    case 'query':
      return single ? <QueryPage /> : undefined;
    case 'vault':
      return single ? <VaultPage /> : undefined;
    case 'audit':
      return single ? <AuditPage /> : undefined;
    case 'security':
      return single ? <SecurityPage /> : undefined;
    case 'tasks':
      return single ? <TasksPage /> : undefined;
    case 'users':
      return single ? <UsersPage /> : undefined;
    case 'sso':
      return single ? <SsoPage /> : undefined;
    case 'backups':
      return single ? <BackupsPage /> : undefined;
    case 'retention':
      return single ? <RetentionPage /> : undefined;
    case 'account':
      return single ? <AccountPage /> : undefined;
    case 'signin':
    case 'setup':
      return single ? <DatasetsPage /> : undefined;
    case 'rules':
      return single ? <RulesPage /> : undefined;
    case 'policies':
      return single ? <PoliciesPage /> : undefined;
    default:
      return undefined;
  }
}

function Page() {
  const { path, segments } = useLocation();
  return (
    pageFor(segments) ?? (
      <div data-testid="no-such-page">
        <Empty title="No such page" action={<Link to="/datasets">Go to Datasets</Link>}>
          <code>{path}</code> is not a page of the console. Use the menu to find what you need.
        </Empty>
      </div>
    )
  );
}

/** Nobody signed in: "Create the first owner" while no owner exists, else "Sign in". */
function SignedOut() {
  const [signIn, setSignIn] = useState(false);
  const status = useQuery({
    queryKey: ['setup-status'],
    queryFn: () => api.auth.setupStatus(),
    staleTime: 0,
    gcTime: 0,
    retry: false,
  });
  if (status.isPending) return <Loading what="Strongroom" />;
  if (status.data?.ownerExists === false && !signIn) return <FirstRun onSignIn={() => setSignIn(true)} />;
  return <SignIn />;
}

export function App() {
  const { me, loading, workspace, refresh } = useSession();
  if (loading) return <Loading what="your session" />;
  if (!me) return <SignedOut />;
  if (me.mfaEnrolmentRequired) return <MfaEnrolScreen onDone={() => void refresh()} />;
  if (!workspace) {
    return (
      <main style={{ padding: '2rem', maxWidth: 640 }}>
        <Notice kind="warn" title="You are not a member of any workspace yet">
          Ask an owner or admin to add you to a workspace, then reload this page.
        </Notice>
      </main>
    );
  }
  return (
    <Shell>
      <Page key={workspace.id} />
    </Shell>
  );
}
