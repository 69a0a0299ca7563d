/** The console: sign-in gate, MFA enrolment gate, then the page the URL names. */
import { useLocation } from './lib/router.tsx';
import { useSession } from './lib/session.tsx';
import { Shell } from './shell.tsx';
import { SignIn } from './pages/signin.tsx';
import { MfaEnrolScreen } from './pages/mfa-enrol.tsx';
import { DrivesPage } from './pages/drives.tsx';
import { MountWizard } from './pages/mount-wizard.tsx';
import { DatasetsPage } from './pages/datasets.tsx';
import { DatasetPage } from './pages/dataset-page.tsx';
import { VaultPage } from './pages/vault.tsx';
import { AuditPage } from './pages/audit.tsx';
import { UsersPage } from './pages/users.tsx';
import { AccountPage } from './pages/account.tsx';
import { Empty, Loading, Notice } from './ui/components.tsx';

function Page() {
  const { segments } = useLocation();
  const [top, second] = segments;
  switch (top ?? 'datasets') {
    case 'drives':
      return second === 'new' ? <MountWizard /> : <DrivesPage />;
    case 'datasets':
      return second ? <DatasetPage name={second} /> : <DatasetsPage />;
    case 'vault':
      return <VaultPage />;
    case 'audit':
      return <AuditPage />;
    case 'users':
      return <UsersPage />;
    case 'account':
      return <AccountPage />;
    case 'signin':
      return <DatasetsPage />;
    default:
      return <Empty title="No such page">The address does not name a page of the console. Use the menu on the left.</Empty>;
  }
}

export function App() {
  const { me, loading, workspace, refresh } = useSession();
  if (loading) return <Loading what="your session" />;
  if (!me) return <SignIn />;
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
