/**
 * The workspace's client network allowlist on the Security page: the lists in force (the
 * installation's, this workspace's, the trusted proxies), the address the server sees for you,
 * and — for owners and admins — an editor for this workspace's own list, one CIDR block a line.
 *
 * The server is the one judge of a list: a bad entry comes back as an issue naming its entry
 * (`/cidrs/<index>`) and is shown under the list against its line; a list that leaves out your
 * own address is refused by the server (it would lock you out, and the API has no override), so
 * the editor says so and offers to add your address. Nothing is saved until the server accepts
 * the whole list.
 */
import { useEffect, useState, type ReactNode } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError, api } from '../lib/api.ts';
import { issuesOf } from '../lib/issues.ts';
import { usePermissions } from '../lib/session.tsx';
import { Badge, Notice, Problem, ui } from '../ui/components.tsx';

const linesOf = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

/** The block of exactly one address: /32 for IPv4, /128 for IPv6. */
const ownBlock = (address: string) => `${address}/${address.includes(':') ? 128 : 32}`;

const row = (term: string, value: ReactNode, testId?: string) => (
  <div>
    <dt style={{ display: 'inline', fontWeight: 600 }}>{term}</dt>:{' '}
    <dd style={{ display: 'inline', margin: 0 }} data-testid={testId}>
      {value}
    </dd>
  </div>
);

export function NetworkAllowlist({ ws: workspaceId }: { ws: string }) {
  const can = usePermissions();
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['network-allowlist', workspaceId],
    queryFn: () => api.network.allowlist(workspaceId),
  });
  const n = q.data;
  const [text, setText] = useState('');
  const [loadedFor, setLoadedFor] = useState<string | null>(null);
  // The editor starts from the saved list (once per workspace; a save reloads it).
  useEffect(() => {
    if (n && loadedFor !== workspaceId) {
      setText((n.workspace ?? []).join('\n'));
      setLoadedFor(workspaceId);
    }
  }, [n, loadedFor, workspaceId]);

  const save = useMutation({
    mutationFn: (cidrs: string[]) => api.network.setAllowlist(workspaceId, cidrs),
    onSuccess: (saved) => {
      qc.setQueryData(['network-allowlist', workspaceId], saved);
      setText((saved.workspace ?? []).join('\n'));
    },
  });
  const entries = linesOf(text);
  const issues = issuesOf(save.error);
  const lockedOut = save.error instanceof ApiError && save.error.status === 409;
  const perLine = new Map<number, string[]>();
  for (const i of issues) {
    const m = /^\/cidrs\/(\d+)$/.exec(i.path);
    if (m) perLine.set(Number(m[1]), [...(perLine.get(Number(m[1])) ?? []), i.message]);
  }
  const blocks = (xs: readonly string[] | null, none: string) => (xs && xs.length > 0 ? xs.join(', ') : none);

  return (
    <section className={ui.panel} aria-label="Client network allowlist" data-testid="network-allowlist">
      <h2>Client network allowlist</h2>
      <Problem error={q.error} />
      {n ? (
        <dl>
          {row('Installation', blocks(n.installation, 'every address'))}
          {row('This workspace', blocks(n.workspace, 'no further restriction'), 'workspace-list')}
          {row('Trusted proxies', blocks(n.trustedProxies, 'none (X-Forwarded-For ignored)'))}
          {row(
            'Your address',
            <>
              {n.yourAddress} {n.allowed ? <Badge kind="good">allowed</Badge> : <Badge kind="bad">outside</Badge>}
            </>,
            'your-address',
          )}
        </dl>
      ) : null}
      {n && can.admin ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            save.mutate(entries);
          }}
        >
          <div className={ui.field}>
            <label className={ui.label} htmlFor="allowlist-text">
              This workspace’s allowlist
            </label>
            <textarea
              id="allowlist-text"
              className={ui.textarea}
              rows={5}
              spellCheck={false}
              value={text}
              placeholder={'10.0.0.0/8\n203.0.113.7/32\n2001:db8::/32'}
              aria-invalid={issues.length > 0 || lockedOut ? true : undefined}
              aria-describedby="allowlist-help"
              onChange={(e) => {
                setText(e.target.value);
                if (save.isError || save.isSuccess) save.reset();
              }}
            />
            <span className={ui.help} id="allowlist-help">
              One CIDR block a line (a single address: 203.0.113.7/32). Requests to this workspace from anywhere else
              are refused and audited. Empty: no restriction beyond the installation’s.
            </span>
          </div>
          {perLine.size > 0 ? (
            <ul className={ui.fieldError} role="alert" data-testid="allowlist-issues">
              {[...perLine].map(([i, messages]) => (
                <li key={i} data-line={i + 1}>
                  Line {i + 1}: {messages.map((m) => m.replace(/^cidrs: /, '')).join(' ')}
                </li>
              ))}
            </ul>
          ) : save.error && !lockedOut ? (
            <Problem error={save.error} />
          ) : null}
          {lockedOut ? (
            <Notice kind="warn" title="Not saved: this list would lock you out">
              <p data-testid="allowlist-lockout">
                Your address as the server sees it, {n.yourAddress}, is in none of these blocks. Saving it would refuse
                your own next request, so the server will not.
              </p>
              <button
                type="button"
                className={`${ui.button} ${ui.small}`}
                onClick={() => {
                  setText([...entries, ownBlock(n.yourAddress)].join('\n'));
                  save.reset();
                }}
              >
                Add my address ({ownBlock(n.yourAddress)})
              </button>
            </Notice>
          ) : null}
          {save.isSuccess ? (
            <Notice kind="ok">
              <span data-testid="allowlist-saved">
                {save.data.workspace ? `Saved: ${save.data.workspace.length} block(s).` : 'Saved: no restriction.'}
              </span>
            </Notice>
          ) : null}
          <div className={ui.row}>
            <button type="submit" className={`${ui.button} ${ui.primary}`} disabled={save.isPending}>
              Save allowlist
            </button>
            {n.workspace ? (
              <button
                type="button"
                className={`${ui.button} ${ui.quiet}`}
                disabled={save.isPending}
                onClick={() => {
                  setText('');
                  save.mutate([]);
                }}
              >
                Remove the restriction
              </button>
            ) : null}
          </div>
        </form>
      ) : null}
    </section>
  );
}
