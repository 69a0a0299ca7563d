import { PageHead } from '../ui/components.tsx';

export function AccountPage(_props: { name?: string }) {
  return <PageHead title="AccountPage" />;
}
