import { PageHead } from '../ui/components.tsx';

export function VaultPage(_props: { name?: string }) {
  return <PageHead title="VaultPage" />;
}
