/**
 * A dataset's own settings on its page: edit the description and tags (PATCH, audited), with
 * what each tag rule does before it is saved, and delete the whole dataset after a confirmation
 * and a fresh sign-in. Removing a tag whose rule holds you back is refused by the server with
 * its reason, which is shown at the form.
 */
import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import type { DatasetDetail } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { navigate } from '../lib/router.tsx';
import { useSession, useWorkspace } from '../lib/session.tsx';
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
  const list = tagList(tags);
  const problem = tagsProblem(list);
  const save = useMutation({
    mutationFn: () => api.datasets.update(ws.id, dataset.name, { tags: list, description }),
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
