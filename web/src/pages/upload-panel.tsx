/**
 * Upload a file as the next version of a dataset: drag and drop or the file picker, then a real
 * progress bar (bytes, rate, time left) with cancel. Large files go in resumable parts when the
 * server offers upload sessions.
 */
import { useRef, useState, type DragEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { DatasetVersion } from '../../../src/client/api-types.ts';
import { api } from '../lib/api.ts';
import { bytes, duration } from '../lib/format.ts';
import { Link } from '../lib/router.tsx';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { startUpload, UploadCancelled, type RunningUpload, type UploadProgress } from '../lib/uploader.ts';
import { Field, Notice, Problem, ui } from '../ui/components.tsx';
import css from './datasets.module.css';

export function UploadPanel({ dataset, onClose }: { dataset?: string; onClose: () => void }) {
  const ws = useWorkspace();
  const qc = useQueryClient();
  const can = usePermissions();
  const drives = useQuery({ queryKey: ['drives', ws.id], queryFn: () => api.drives.list(ws.id), enabled: can.metadata });
  const [name, setName] = useState(dataset ?? '');
  const [drive, setDrive] = useState('');
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

  const drop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    const f = e.dataTransfer.files[0];
    if (f) setFile(f);
  };

  async function upload() {
    if (!file || !name) return;
    setError(null);
    setResult(null);
    setCancelled(false);
    const tagList = tags.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean);
    const up = startUpload({ workspace: ws.id, dataset: name, file, ...(drive ? { drive } : {}), ...(tagList.length ? { tags: tagList } : {}), ...(description ? { description } : {}), onProgress: setProgress });
    running.current = up;
    setBusy(true);
    try {
      setResult(await up.done);
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
    <section className={ui.panel} aria-label="Upload a file">
      <div className={ui.spread}>
        <h2 style={{ marginTop: 0 }}>{dataset ? `Upload a new version of ${dataset}` : 'Upload a file'}</h2>
        <button className={`${ui.button} ${ui.quiet}`} onClick={onClose} disabled={busy}>
          Close
        </button>
      </div>
      <Problem error={error} title="The upload failed" />
      {cancelled ? <Notice kind="warn" title="Upload cancelled">No version was created.</Notice> : null}
      {!dataset ? (
        <Field label="Dataset name" help="A new name creates the dataset; an existing one gets a new version. Letters, digits, . _ -">
          {(id) => <input id={id} className={ui.input} value={name} onChange={(e) => setName(e.target.value)} pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,127}" required disabled={busy} />}
        </Field>
      ) : null}
      <div className={ui.grid2}>
        <Field label="Drive" help="Where the encrypted bytes are stored.">
          {(id) => (
            <select id={id} className={ui.select} value={drive} onChange={(e) => setDrive(e.target.value)} disabled={busy}>
              <option value="">Workspace default</option>
              {drives.data?.drives.map((d) => (
                <option key={d.name} value={d.name}>
                  {d.name} ({d.kind})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Tags (optional)" help="Comma-separated, e.g. finance, pii">
          {(id) => <input id={id} className={ui.input} value={tags} onChange={(e) => setTags(e.target.value)} disabled={busy} />}
        </Field>
      </div>
      <Field label="Description (optional)">{(id) => <input id={id} className={ui.input} value={description} onChange={(e) => setDescription(e.target.value)} disabled={busy} />}</Field>
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
          <input className={ui.srOnly} type="file" aria-label="File to upload" onChange={(e) => setFile(e.target.files?.[0] ?? null)} disabled={busy} />
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
            <span>{result ? 'done' : progress.finishing ? 'encrypting and verifying…' : `${duration(progress.eta)} left`}</span>
            {progress.parts ? <span>resumable, in {progress.parts} parts</span> : null}
            {progress.resumed ? <span>resumed where it stopped</span> : null}
          </div>
        </div>
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
          <button className={`${ui.button} ${ui.danger}`} onClick={() => running.current?.cancel()}>
            Cancel upload
          </button>
        ) : (
          <button className={`${ui.button} ${ui.primary}`} onClick={upload} disabled={!file || !name}>
            Upload
          </button>
        )}
      </div>
    </section>
  );
}
