import { PageHead } from '../ui/components.tsx';

export function UsersPage(_props: { name?: string }) {
  return <PageHead title="UsersPage" />;
}
