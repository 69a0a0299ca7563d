import { PageHead } from '../ui/components.tsx';

export function DatasetPage(_props: { name?: string }) {
  return <PageHead title="DatasetPage" />;
}
