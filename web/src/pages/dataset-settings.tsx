/**
 * A dataset's own settings on its page: edit the description and tags (PATCH, audited), with
 * what each tag rule does before it is saved, and delete the whole dataset after a confirmation
 * and a fresh sign-in. Removing a tag whose rule holds you back is refused by the server with
 * its reason, which is shown at the form.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { DatasetDetail } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { navigate } from '../lib/router.tsx';
import { usePermissions, useSession, useWorkspace } from '../lib/session.tsx';
import { rulesFor, tagsProblem } from '../lib/tag-rules.ts';
import { useReauth } from '../ui/reauth.tsx';
import { ConfirmDialog, Field, FieldErrors, Notice, Problem, ui } from '../ui/components.tsx';

const tagList = (tags: string) => [
  ...new Set(
    tags
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  ),
];

export function DatasetSettings({ dataset, onClose }: { dataset: DatasetDetail; onClose: () => void }) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const { me } = useSession();
  const [tags, setTags] = useState(dataset.tags.join(', '));
  const [description, setDescription] = useState(dataset.description);
  const can = usePermissions();
  const [liftKnowingly, setLiftKnowingly] = useState(false);
  const list = tagList(tags);
  const problem = tagsProblem(list);
  // Tag policies the change starts or stops applying to this dataset (data policies on a tag).
  const policies = useQuery({
    queryKey: ['data-policies', ws.id],
    queryFn: () => api.dataPolicies.list(ws.id),
    enabled: can.readPolicies,
  });
  const tagPolicies = (tagsOf: string[]) =>
    (policies.data?.policies ?? [])
      .filter((p) => 'tag' in p.policy.target && tagsOf.includes(p.policy.target.tag))
      .map((p) => ({ name: p.name, tag: 'tag' in p.policy.target ? p.policy.target.tag : '' }));
  const adds = tagPolicies(list.filter((t) => !dataset.tags.includes(t)));
  const lifts = tagPolicies(dataset.tags.filter((t) => !list.includes(t))).filter(
    // Still applies through a tag the dataset keeps: not lifted.
    (l) => !tagPolicies(list).some((k) => k.name === l.name),
  );
  const save = useMutation({
    mutationFn: () =>
      api.datasets.update(ws.id, dataset.name, {
        tags: list,
        description,
        ...(liftKnowingly && lifts.length > 0 ? { liftPolicies: lifts.map((l) => l.name) } : {}),
      }),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['dataset', ws.id, dataset.name] });
      await qc.invalidateQueries({ queryKey: ['datasets', ws.id] });
      onClose();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!problem) save.mutate();
  };
  const added = rulesFor(list.filter((t) => !dataset.tags.includes(t)));

  return (
    <form className={ui.panel} aria-label="Dataset settings" onSubmit={submit}>
      <h2 style={{ marginTop: 0 }}>Description and tags</h2>
      <Problem error={save.error} title="The changes were not saved" />
      <FieldErrors error={save.error}>
        <Field label="Description" path="/description">
          {(id) => (
            <input
              id={id}
              className={ui.input}
              value={description}
              onChange={(e) => setDescription(e.target.value)}
              maxLength={4096}
            />
          )}
        </Field>
        <Field
          label="Tags"
          path="/tags"
          check={problem}
          help="Comma-separated labels to find the dataset by. Some tags restrict who can download it."
        >
          {(id) => <input id={id} className={ui.input} value={tags} onChange={(e) => setTags(e.target.value)} />}
        </Field>
      </FieldErrors>
      {added.map((r) => (
        <Notice key={r.tag} kind="warn" title={`The tag ${r.tag} restricts downloads`}>
          Only {r.who} can download a dataset tagged <strong>{r.tag}</strong> (built-in rule <code>{r.rule}</code>).{' '}
          {r.meets(me)
            ? 'You meet it.'
            : 'You do not meet it: you could not download this dataset, nor remove the tag again. Ask an admin first.'}
        </Notice>
      ))}
      {adds.length > 0 ? (
        <Notice kind="info" title="Data policies start to apply">
          <span data-testid="tag-policies-added">{adds.map((a) => `${a.name} (tag ${a.tag})`).join(', ')}</span> will
          mask, hide or filter this dataset for the readers they select.
        </Notice>
      ) : null}
      {lifts.length > 0 ? (
        <Notice kind="warn" title="Data policies stop applying">
          <span data-testid="tag-policies-lifted">{lifts.map((l) => `${l.name} (tag ${l.tag})`).join(', ')}</span> would
          no longer mask, hide or filter this dataset.
          <label className={ui.row}>
            <input type="checkbox" checked={liftKnowingly} onChange={(e) => setLiftKnowingly(e.target.checked)} />
            Lift {lifts.length === 1 ? 'it' : 'them'} knowingly (recorded in the audit event)
          </label>
        </Notice>
      ) : null}
      <div className={ui.row}>
        <button type="submit" className={`${ui.button} ${ui.primary}`} disabled={save.isPending || Boolean(problem)}>
          {save.isPending ? 'Saving…' : 'Save'}
        </button>
        <button type="button" className={ui.button} onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** "Delete dataset": confirmation naming what goes, then a fresh sign-in, then back to the list. */
export function DeleteDatasetButton({ dataset }: { dataset: DatasetDetail }) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const { withReauth, dialog } = useReauth();
  const [open, setOpen] = useState(false);
  const del = useMutation({
    mutationFn: () => withReauth(() => api.datasets.remove(ws.id, dataset.name)),
    onSuccess: async () => {
      setOpen(false);
      await qc.invalidateQueries({ queryKey: ['datasets', ws.id] });
      qc.removeQueries({ queryKey: ['dataset', ws.id, dataset.name] });
      navigate('/datasets');
    },
  });
  const n = dataset.versions.length;
  return (
    <>
      <button type="button" className={`${ui.button} ${ui.danger}`} onClick={() => setOpen(true)}>
        Delete dataset
      </button>
      <ConfirmDialog
        open={open}
        title={`Delete dataset ${dataset.name}?`}
        confirmLabel="Delete dataset"
        pending={del.isPending}
        error={del.error}
        onCancel={() => setOpen(false)}
        onConfirm={() => del.mutate()}
      >
        <p>
          All {n} version{n === 1 ? '' : 's'} and their encrypted objects are removed from their drives. This cannot be
          undone. You will be asked to confirm your password.
        </p>
      </ConfirmDialog>
      {dialog}
    </>
  );
}
