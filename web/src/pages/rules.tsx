/**
 * Access rules (owners, admins, auditors): the built-in Cedar policies, read-only, each in plain
 * words and as written. Besides roles, these decide — e.g. a `pii` tag needs clearance ≥ 2 and MFA —
 * and a refusal names the rule that made it. The data protection policies issue will replace the
 * tag rules with visible, editable policies.
 */
import { useQuery } from '@tanstack/react-query';
import { api } from '../lib/api.ts';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { Badge, Loading, NeedsRole, Notice, PageHead, Problem, ui } from '../ui/components.tsx';

export function RulesPage() {
  const ws = useWorkspace();
  const can = usePermissions();
  const rules = useQuery({
    queryKey: ['rules', ws.id],
    queryFn: () => api.policies.builtin(ws.id),
    enabled: can.audit,
  });
  if (!can.audit) return <NeedsRole page="Access rules" roles="owners, admins and auditors" have={ws.roles} />;
  const list = rules.data?.rules ?? [];
  const forbids = list.filter((r) => r.effect === 'forbid');
  const permits = list.filter((r) => r.effect === 'permit');
  return (
    <>
      <PageHead
        title="Access rules"
        sub="The built-in rules that decide who may do what, besides the roles. Read-only."
      />
      <Notice kind="info">
        A person&apos;s clearance, region and department are set on <em>Users &amp; roles</em>. When a rule refuses
        something, the message names the rule.
      </Notice>
      <Problem error={rules.error} />
      {rules.isPending ? <Loading what="the rules" /> : null}
      {[
        { title: 'Restrictions (no role overrides them)', items: forbids },
        { title: 'What roles allow', items: permits },
      ].map((group) =>
        group.items.length > 0 ? (
          <section key={group.title} className={ui.panel} aria-label={group.title}>
            <h2 style={{ marginTop: 0 }}>{group.title}</h2>
            {group.items.map((r) => (
              <article key={r.id} data-testid={`rule-${r.id}`} style={{ marginBottom: '1rem' }}>
                <h3 style={{ margin: '0 0 0.25rem' }}>
                  <code>{r.id}</code> <Badge kind={r.effect === 'forbid' ? 'bad' : 'good'}>{r.effect}</Badge>
                </h3>
                <p style={{ margin: '0 0 0.25rem' }}>{r.summary}</p>
                <details>
                  <summary className={ui.muted}>As written ({r.file})</summary>
                  <pre style={{ whiteSpace: 'pre-wrap', overflowX: 'auto' }}>{r.text}</pre>
                </details>
              </article>
            ))}
          </section>
        ) : null,
      )}
    </>
  );
}
