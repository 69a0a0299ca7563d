import { PageHead } from '../ui/components.tsx';

export function AuditPage(_props: { name?: string }) {
  return <PageHead title="AuditPage" />;
}
