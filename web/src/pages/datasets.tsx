import { PageHead } from '../ui/components.tsx';

export function DatasetsPage(_props: { name?: string }) {
  return <PageHead title="DatasetsPage" />;
}
