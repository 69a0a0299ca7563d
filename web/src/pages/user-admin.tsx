/**
 * An admin's changes to one member, beside the user table: attributes (department, region,
 * clearance — read by the built-in tag rules, e.g. `pii` needs clearance ≥ 2), re-enabling a
 * disabled account, and resetting someone's MFA (asks the admin to re-authenticate first). The
 * server applies the role rules: no one gives a clearance above their own.
 */
import { useState, type FormEvent } from 'react';
import { useMutation } from '@tanstack/react-query';
import type { WorkspaceUser } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { Link } from '../lib/router.tsx';
import { ConfirmDialog, Dialog, Field, FieldErrors, Problem, ui } from '../ui/components.tsx';
import { useReauth } from '../ui/reauth.tsx';

const str = (v: unknown) => (typeof v === 'string' ? v : '');

export function AttributesDialog({
  ws: workspaceId,
  user,
  onDone,
}: {
  ws: string;
  user: WorkspaceUser | null;
  onDone: () => void;
}) {
  const a = user?.attributes ?? {};
  const [department, setDepartment] = useState(str(a.department));
  const [region, setRegion] = useState(str(a.region));
  const [clearance, setClearance] = useState(typeof a.clearance === 'number' ? String(a.clearance) : str(a.clearance));
  const save = useMutation({
    mutationFn: () =>
      api.users.setAttributes(workspaceId, user!.id, {
        department: department.trim(),
        region: region.trim(),
        ...(clearance !== '' ? { clearance: Number(clearance) } : {}),
      }),
    onSuccess: onDone,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <Dialog open={user !== null} title={`Attributes of ${user?.email ?? ''}`} onClose={onDone}>
      <form onSubmit={submit} aria-label="User attributes">
        <p className={ui.muted}>
          The <Link to="/rules">access rules</Link> read these: content tagged <code>pii</code> needs clearance 2 or
          more (and MFA), <code>eu-only</code> needs region <code>eu</code>.
        </p>
        <Problem error={save.error} />
        <FieldErrors error={save.error}>
          <Field label="Department" path="/attributes/department">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={department}
                onChange={(e) => setDepartment(e.target.value)}
                maxLength={100}
              />
            )}
          </Field>
          <Field label="Region" path="/attributes/region" help="For example eu, us">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={region}
                onChange={(e) => setRegion(e.target.value)}
                maxLength={100}
              />
            )}
          </Field>
          <Field
            label="Clearance"
            path="/attributes/clearance"
            help="0 to 9; empty: none"
            mismatch="A whole number from 0 to 9."
          >
            {(id) => (
              <input
                id={id}
                className={ui.input}
                type="number"
                min={0}
                max={9}
                step={1}
                value={clearance}
                onChange={(e) => setClearance(e.target.value)}
              />
            )}
          </Field>
        </FieldErrors>
        <div className={ui.row} style={{ justifyContent: 'flex-end' }}>
          <button type="button" className={ui.button} onClick={onDone}>
            Cancel
          </button>
          <button type="submit" className={`${ui.button} ${ui.primary}`} disabled={save.isPending}>
            Save attributes
          </button>
        </div>
      </form>
    </Dialog>
  );
}

/** Re-enable and MFA-reset, each confirmed first; returns the buttons for a row and the dialogs. */
export function useMemberActions(workspaceId: string, myId: string | undefined, refresh: () => unknown) {
  const { withReauth, dialog } = useReauth();
  const [resetting, setResetting] = useState<WorkspaceUser | null>(null);
  const enable = useMutation({ mutationFn: (id: string) => api.users.enable(workspaceId, id), onSettled: refresh });
  const reset = useMutation({
    mutationFn: (id: string) => withReauth(() => api.users.resetMfa(workspaceId, id)),
    onSuccess: () => setResetting(null),
    onSettled: refresh,
  });
  const buttons = (u: WorkspaceUser) => (
    <>
      {u.status !== 'active' ? (
        <button className={`${ui.button} ${ui.small}`} onClick={() => enable.mutate(u.id)}>
          Enable
        </button>
      ) : null}
      {u.mfaEnabled && u.id !== myId ? (
        <button className={`${ui.button} ${ui.small}`} onClick={() => setResetting(u)}>
          Reset MFA
        </button>
      ) : null}
    </>
  );
  const dialogs = (
    <>
      {dialog}
      <ConfirmDialog
        open={resetting !== null}
        title={`Reset the MFA of ${resetting?.email ?? ''}?`}
        confirmLabel="Reset MFA"
        pending={reset.isPending}
        error={reset.error ?? undefined}
        onCancel={() => setResetting(null)}
        onConfirm={() => resetting && reset.mutate(resetting.id)}
      >
        <p>
          For someone who lost their authenticator and recovery codes. Their sessions end; they sign in with their
          password and enrol an authenticator again. You will be asked to confirm it is you.
        </p>
      </ConfirmDialog>
    </>
  );
  return { buttons, dialogs, error: enable.error };
}
