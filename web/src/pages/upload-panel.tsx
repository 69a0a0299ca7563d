/**
 * Upload a file as the next version of a dataset: drag and drop or the file picker, then a real
 * progress bar (bytes, rate, time left) with cancel. Large files go in resumable parts when the
 * server offers upload sessions. The dataset name is suggested from the file name and checked as
 * typed; a file identical to the latest version (same SHA-256, for files the browser can hash) is
 * pointed out before it is stored again; a tag with a built-in access rule says what it does.
 * A new version goes to the dataset's current drive unless another is chosen (the form names it
 * and warns on a change); tags and description of an existing dataset are edited on its page.
 */
import { useEffect, useRef, useState, type DragEvent, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { DatasetVersion } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { bytes, duration } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import { usePermissions, useSession, useWorkspace } from '../lib/session.tsx';
import { datasetNameProblem, nameFromFile, rulesFor, tagsProblem } from '../lib/tag-rules.ts';
import {
  HASH_IN_BROWSER_UP_TO,
  sha256Of,
  startUpload,
  UploadCancelled,
  type RunningUpload,
  type UploadProgress,
} from '../lib/uploader.ts';
import { Field, FieldErrors, Notice, Problem, ui } from '../ui/components.tsx';
import css from './datasets.module.css';

/** Tags as the server stores them: comma-separated, trimmed, lower case. */
const tagList = (tags: string) =>
  tags
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);

export function UploadPanel({
  dataset,
  currentDrive,
  presetDrive,
  onClose,
}: {
  dataset?: string;
  /** The drive of the dataset's newest version (where the next one goes by default). */
  currentDrive?: string | undefined;
  /** A drive chosen beforehand (the drive page's "Upload a dataset to this drive"). */
  presetDrive?: string | undefined;
  onClose: () => void;
}) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const can = usePermissions();
  const drives = useQuery({
    queryKey: ['drives', ws.id],
    queryFn: () => api.drives.list(ws.id),
    enabled: can.metadata,
  });
  const { me } = useSession();
  const [name, setName] = useState(dataset ?? '');
  /** The name was filled in from the file (a new file may replace it; a typed one stays). */
  const [autoName, setAutoName] = useState(true);
  const [sha, setSha] = useState<{ file: File; sha256: string | undefined } | null>(null);
  const [picker, setPicker] = useState(0);
  const [drive, setDrive] = useState(presetDrive ?? '');
  const [tags, setTags] = useState('');
  const [description, setDescription] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [over, setOver] = useState(false);
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [result, setResult] = useState<DatasetVersion | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [cancelled, setCancelled] = useState(false);
  const running = useRef<RunningUpload | null>(null);
  const [busy, setBusy] = useState(false);

  const nameProblem = dataset ? undefined : datasetNameProblem(name);
  const tagProblem = tagsProblem(tagList(tags));
  const restricted = rulesFor(tagList(tags));
  // The latest version, to point out an identical re-upload (the dataset page has it already).
  const latest = useQuery({
    queryKey: ['dataset', ws.id, name],
    queryFn: () => api.datasets.get(ws.id, name),
    enabled: Boolean(file && name && !nameProblem),
    staleTime: 30_000,
  });
  const last = latest.data?.versions.at(-1);
  /** An existing dataset: its versions stay on its drive, its tags are edited on its page. */
  const existing = Boolean(dataset) || latest.data !== undefined;
  const current = currentDrive ?? last?.drive;
  const defaultDrive = drives.data?.drives.find((d) => d.isDefault)?.name;
  const moving = Boolean(drive && current && drive !== current);
  const hashing = file !== null && sha?.file !== file;
  const identical = Boolean(file && sha?.file === file && sha.sha256 && last && last.sha256 === sha.sha256);

  useEffect(() => {
    if (!file) return;
    let live = true;
    void sha256Of(file)
      .catch(() => undefined)
      .then((sha256) => live && setSha({ file, sha256 }));
    return () => {
      live = false;
    };
  }, [file]);

  const choose = (f: File | null) => {
    setFile(f);
    setResult(null);
    setProgress(null);
    if (f && !dataset && (autoName || !name)) {
      setName(nameFromFile(f.name));
      setAutoName(true);
    }
  };

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const f = e.dataTransfer.files[0];
    if (f) choose(f);
  };

  async function upload(e: FormEvent) {
    e.preventDefault();
    if (!file || !name || hashing) return;
    setError(null);
    setResult(null);
    setCancelled(false);
    const list = tagList(tags);
    const digest = sha?.file === file ? sha.sha256 : undefined;
    const up = startUpload({
      workspace: ws.id,
      dataset: name,
      file,
      ...(drive ? { drive } : {}),
      ...(list.length && !existing ? { tags: list } : {}),
      ...(description && !existing ? { description } : {}),
      ...(digest ? { sha256: digest } : {}),
      onProgress: setProgress,
    });
    running.current = up;
    setBusy(true);
    try {
      setResult(await up.done);
      // Ready for the next file: the stored one is not offered again.
      setFile(null);
      setSha(null);
      setPicker((n) => n + 1);
      await qc.invalidateQueries({ queryKey: ['datasets', ws.id] });
      await qc.invalidateQueries({ queryKey: ['dataset', ws.id, name] });
    } catch (err) {
      if (err instanceof UploadCancelled) setCancelled(true);
      else setError(err);
      setProgress(null);
    } finally {
      running.current = null;
      setBusy(false);
    }
  }

  const pct = progress ? Math.floor((progress.sent / Math.max(progress.total, 1)) * 100) : 0;
  return (
    <form className={ui.panel} aria-label="Upload a file" onSubmit={upload}>
      <div className={ui.spread}>
        <h2 style={{ marginTop: 0 }}>{dataset ? `Upload a new version of ${dataset}` : 'Upload a file'}</h2>
        <button type="button" className={`${ui.button} ${ui.quiet}`} onClick={onClose} disabled={busy}>
          Close
        </button>
      </div>
      <Problem error={error} title="The upload failed" />
      {cancelled ? (
        <Notice kind="warn" title="Upload cancelled">
          No version was created.
        </Notice>
      ) : null}
      <FieldErrors error={error}>
        {!dataset ? (
          <Field
            label="Dataset name"
            path="/name"
            where="params"
            check={nameProblem}
            help="A new name creates the dataset; an existing one gets a new version. Up to 128 letters A–Z a–z, digits and . _ -, starting with a letter or digit."
          >
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={name}
                onChange={(e) => {
                  setName(e.target.value);
                  setAutoName(false);
                }}
                required
                disabled={busy}
              />
            )}
          </Field>
        ) : null}
        <div className={ui.grid2}>
          <Field
            label="Drive"
            path="/drive"
            help={
              current
                ? `Where the encrypted bytes are stored. This dataset's versions are on ${current}.`
                : 'Where the encrypted bytes are stored.'
            }
          >
            {(id) => (
              <select
                id={id}
                className={ui.select}
                value={drive}
                onChange={(e) => setDrive(e.target.value)}
                disabled={busy}
              >
                <option value="">
                  {current
                    ? `${current} (this dataset's drive)`
                    : `Workspace default${defaultDrive ? ` (${defaultDrive})` : ''}`}
                </option>
                {drives.data?.drives
                  .filter((d) => d.name !== current)
                  .map((d) => (
                    <option key={d.name} value={d.name}>
                      {d.name} ({d.kind})
                    </option>
                  ))}
              </select>
            )}
          </Field>
          {existing ? null : (
            <Field
              label="Tags (optional)"
              path={['/tag', '/tags']}
              check={tagProblem}
              help="Comma-separated labels to find the dataset by."
            >
              {(id) => (
                <input
                  id={id}
                  className={ui.input}
                  value={tags}
                  onChange={(e) => setTags(e.target.value)}
                  disabled={busy}
                />
              )}
            </Field>
          )}
        </div>
        {moving ? (
          <Notice kind="warn" title={`This version goes to another drive`}>
            The versions of {dataset ?? name} are on <strong>{current}</strong>; this one will be stored on{' '}
            <strong>{drive}</strong>. Choose {current} to keep them together.
          </Notice>
        ) : null}
        {existing ? (
          <p className={ui.help} data-testid="tags-elsewhere">
            Tags and description belong to the dataset: change them with Edit tags on its page.
          </p>
        ) : null}
        {(existing ? [] : restricted).map((r) => (
          <Notice key={r.tag} kind="warn" title={`The tag ${r.tag} restricts downloads`}>
            Only {r.who} can download a dataset tagged <strong>{r.tag}</strong> (built-in rule <code>{r.rule}</code>).{' '}
            {r.meets(me)
              ? 'You meet it.'
              : 'You do not meet it, so you could not download this dataset yourself. Ask an admin before using this tag.'}
          </Notice>
        ))}
        {existing ? null : (
          <Field label="Description (optional)" path="/description">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={description}
                onChange={(e) => setDescription(e.target.value)}
                disabled={busy}
              />
            )}
          </Field>
        )}
      </FieldErrors>
      <div
        className={`${css.drop} ${over ? css.dropOver : ''}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
        data-testid="drop-zone"
      >
        {file ? (
          <p>
            <span className={css.fileName}>{file.name}</span> · {bytes(file.size)}
          </p>
        ) : (
          <p>Drop a file here, or</p>
        )}
        <label className={`${ui.button} ${css.pick}`}>
          {file ? 'Choose another file' : 'Choose a file'}
          <input
            key={picker}
            className={ui.srOnly}
            type="file"
            aria-label="File to upload"
            onChange={(e) => choose(e.target.files?.[0] ?? null)}
            disabled={busy}
          />
        </label>
      </div>
      {progress ? (
        <div aria-live="polite">
          <progress className={ui.progress} value={progress.sent} max={progress.total} aria-label="Upload progress" />
          <div className={css.stats} data-testid="upload-stats">
            <span>
              <strong>{pct} %</strong>
            </span>
            <span>
              {bytes(progress.sent)} of {bytes(progress.total)}
            </span>
            <span>{bytes(Math.round(progress.rate))}/s</span>
            <span>
              {result ? 'done' : progress.finishing ? 'encrypting and verifying…' : `${duration(progress.eta)} left`}
            </span>
            {progress.parts ? <span>resumable, in {progress.parts} parts</span> : null}
            {progress.resumed ? <span>resumed where it stopped</span> : null}
          </div>
        </div>
      ) : null}
      {identical && last ? (
        <Notice kind="warn" title={`This file is identical to version ${last.version}`}>
          It has the same SHA-256 as the latest version of {name} (<code>{last.sha256.slice(0, 16)}…</code>). Uploading
          it again stores the same bytes as version {last.version + 1}.
        </Notice>
      ) : null}
      {file && sha?.file === file && sha.sha256 === undefined && file.size > HASH_IN_BROWSER_UP_TO ? (
        <p className={ui.help}>
          This file is too large to compare with earlier versions in the browser; the server checks its SHA-256 as it
          stores it.
        </p>
      ) : null}
      {result ? (
        <Notice kind="ok" title={`Version ${result.version} of ${name} is stored`}>
          <p>
            {bytes(result.size)}, SHA-256 <code>{result.sha256.slice(0, 16)}…</code>, on drive {result.drive}.{' '}
            {!dataset ? <Link to={`/datasets/${encodeURIComponent(name)}`}>Open dataset</Link> : null}
          </p>
        </Notice>
      ) : null}
      <div className={ui.row}>
        {busy ? (
          <button type="button" className={`${ui.button} ${ui.danger}`} onClick={() => running.current?.cancel()}>
            Cancel upload
          </button>
        ) : (
          <button type="submit" className={`${ui.button} ${ui.primary}`} disabled={!file || !name || hashing}>
            {hashing ? 'Checking the file…' : identical ? 'Upload anyway' : 'Upload'}
          </button>
        )}
        {!file && !busy ? (
          <span className={ui.muted}>
            {result ? 'Choose another file to upload a new version.' : 'Choose a file first.'}
          </span>
        ) : null}
      </div>
    </form>
  );
}
