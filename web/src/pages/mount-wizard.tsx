/**
 * Mount New Drive: pick the kind (with its logo) → name → the kind's fields, each with where to
 * find it in the provider's console → Test (every diagnosis step, pass/fail with hints) → Add
 * Drive. Secrets are typed into password fields and never shown again: Strongroom stores them in
 * the vault and no answer carries them back.
 */
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { Diagnosis, DriveInput, DriveKind } from '../../../src/contracts/index.ts';
import { ApiError, api } from '../lib/api.ts';
import { Link, navigate } from '../lib/router.tsx';
import { usePermissions, useWorkspace } from '../lib/session.tsx';
import { issuesOf } from '../lib/issues.ts';
import { Field, FieldErrors, NeedsRole, Notice, PageHead, Problem, ui } from '../ui/components.tsx';
import { DiagnosisView } from './diagnosis.tsx';
import { KINDS, KindLogo, kindSpec, type KindField } from './drive-kinds.tsx';
import css from './drives.module.css';

type Step = 'kind' | 'name' | 'settings' | 'test';
/** The step whose form holds the field a validation issue is about (name, then settings). */
function stepOfIssues(err: unknown): Step | undefined {
  const paths = issuesOf(err).map((i) => i.path);
  if (paths.some((p) => p === '/name' || p === '/description')) return 'name';
  if (paths.some((p) => p.startsWith('/config') || p.startsWith('/credentials'))) return 'settings';
  return undefined;
}

const STEPS: { id: Step; label: string }[] = [
  { id: 'kind', label: '1 Kind' },
  { id: 'name', label: '2 Name' },
  { id: 'settings', label: '3 Settings' },
  { id: 'test', label: '4 Test and add' },
];

/** Build the API's drive definition from the form's flat values. */
export function driveInput(
  kind: DriveKind,
  name: string,
  description: string,
  variantId: string,
  values: Record<string, string | boolean>,
): DriveInput {
  const spec = kindSpec(kind);
  const config: Record<string, unknown> = {};
  for (const f of spec.config) {
    const v = values[f.key];
    if (v === undefined || v === '' || v === false) continue;
    config[f.key.slice('config.'.length)] = v;
  }
  const input: DriveInput = { name, kind, config, ...(description ? { description } : {}) };
  const variant = spec.credentials.find((c) => c.id === variantId);
  if (variant) {
    const creds: Record<string, unknown> = { ...variant.fixed };
    for (const f of variant.fields) {
      const v = values[f.key];
      const k = f.key.slice('credentials.'.length);
      if (k === 'serviceAccount' && typeof v === 'string') {
        try {
          creds[k] = JSON.parse(v);
        } catch {
          creds[k] = v; // the server answers with a validation problem
        }
      } else if (v !== undefined && v !== '') creds[k] = v;
    }
    input.credentials = creds;
  }
  return input;
}

/** A key file (JSON) chosen from disk or pasted into a masked field; never shown in the clear. */
function KeyFileInput({ id, value, onChange }: { id: string; value: string; onChange: (v: string) => void }) {
  const [loaded, setLoaded] = useState<string | null>(null);
  let account: string | undefined;
  try {
    const parsed = JSON.parse(value) as { client_email?: unknown };
    account = typeof parsed.client_email === 'string' ? parsed.client_email : undefined;
  } catch {
    account = undefined;
  }
  return (
    <div>
      <label className={ui.button}>
        Choose the key file…
        <input
          className={ui.srOnly}
          type="file"
          accept=".json,application/json"
          aria-label="Key file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file)
              void file.text().then((text) => {
                setLoaded(file.name);
                onChange(text);
              });
          }}
        />
      </label>{' '}
      <span className={ui.muted}>or paste it:</span>
      <input
        id={id}
        className={ui.input}
        type="password"
        autoComplete="off"
        value={value}
        onChange={(e) => {
          setLoaded(null);
          onChange(e.target.value);
        }}
      />
      {value ? (
        <p className={ui.help} data-testid="key-file-state">
          {loaded ? `${loaded} loaded` : 'Key pasted'}
          {account ? ` — service account ${account}` : value.trim().startsWith('{') ? '' : ' — this is not JSON'}
        </p>
      ) : null}
    </div>
  );
}

export function FieldInput({
  f,
  value,
  onChange,
}: {
  f: KindField;
  value: string | boolean | undefined;
  onChange: (v: string | boolean) => void;
}) {
  if (f.checkbox) {
    return (
      <label className={ui.check}>
        <input type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} /> {f.label}
        <span className={ui.help}> — {f.help}</span>
      </label>
    );
  }
  return (
    <Field label={`${f.label}${f.optional ? ' (optional)' : ''}`} help={f.help} path={`/${f.key.replace('.', '/')}`}>
      {(id) =>
        f.multiline && f.secret ? (
          <KeyFileInput id={id} value={String(value ?? '')} onChange={(v) => onChange(v)} />
        ) : f.multiline ? (
          <textarea
            id={id}
            className={ui.textarea}
            value={String(value ?? '')}
            onChange={(e) => onChange(e.target.value)}
            spellCheck={false}
            autoComplete="off"
          />
        ) : (
          <input
            id={id}
            className={ui.input}
            type={f.secret ? 'password' : 'text'}
            autoComplete={f.secret ? 'new-password' : 'off'}
            placeholder={f.placeholder}
            value={String(value ?? '')}
            onChange={(e) => onChange(e.target.value)}
            required={!f.optional}
          />
        )
      }
    </Field>
  );
}

export function MountWizard() {
  const ws = useWorkspace();
  const can = usePermissions();
  const qc = useQueryClient();
  const [step, setStep] = useState<Step>('kind');
  const [kind, setKind] = useState<DriveKind | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [variant, setVariant] = useState('');
  const [values, setValues] = useState<Record<string, string | boolean>>({});
  const [report, setReport] = useState<Diagnosis | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<'test' | 'add' | null>(null);

  if (!can.manageData)
    return <NeedsRole page="Mounting a drive" roles="owners, admins and engineers" have={ws.roles} />;
  const spec = kind ? kindSpec(kind) : undefined;
  const creds = spec?.credentials.find((c) => c.id === variant);
  const set = (k: string, v: string | boolean) => {
    setValues((old) => ({ ...old, [k]: v }));
    setReport(null);
  };

  async function test() {
    if (!kind) return;
    setBusy('test');
    setError(null);
    setReport(null);
    try {
      setReport(await api.drives.test(ws.id, driveInput(kind, name, description, variant, values)));
    } catch (err) {
      setError(err);
      const back = stepOfIssues(err);
      if (back) setStep(back);
    } finally {
      setBusy(null);
    }
  }

  async function add() {
    if (!kind) return;
    setBusy('add');
    setError(null);
    try {
      await api.drives.add(ws.id, driveInput(kind, name, description, variant, values));
      setValues({}); // forget the typed secrets at once
      await qc.invalidateQueries({ queryKey: ['drives', ws.id] });
      navigate(`/drives/${encodeURIComponent(name)}?added=1`);
    } catch (err) {
      setError(err);
      const d = err instanceof ApiError ? (err.problem?.diagnosis as Diagnosis | undefined) : undefined;
      if (d) setReport(d);
      const back = stepOfIssues(err);
      if (back) setStep(back);
    } finally {
      setBusy(null);
    }
  }

  const next = (e: FormEvent, to: Step) => {
    e.preventDefault();
    setStep(to);
  };
  const idx = STEPS.findIndex((s) => s.id === step);

  return (
    <>
      <PageHead
        title="Mount New Drive"
        sub="Connect a bucket you own. Strongroom encrypts every object before it reaches it."
        actions={
          <Link to="/drives" className={ui.button}>
            Cancel
          </Link>
        }
      />
      <ol className={css.stepper} aria-label="Steps">
        {STEPS.map((s, i) => (
          <li
            key={s.id}
            className={`${css.stepperItem} ${i === idx ? css.stepperOn : i < idx ? css.stepperDone : ''}`}
            aria-current={i === idx ? 'step' : undefined}
          >
            {s.label}
          </li>
        ))}
      </ol>
      <div className={ui.panel}>
        <FieldErrors error={error}>
          {step !== 'test' && stepOfIssues(error) ? (
            <Problem error={error} title="The drive was not accepted: fix the marked fields" />
          ) : null}
          {step === 'kind' ? (
            <div role="radiogroup" aria-label="Kind of drive" className={css.kinds}>
              {KINDS.map((k) => (
                <button
                  key={k.kind}
                  type="button"
                  role="radio"
                  aria-checked={kind === k.kind}
                  className={`${css.kind} ${kind === k.kind ? css.kindOn : ''}`}
                  onClick={() => {
                    setKind(k.kind);
                    setVariant(k.credentials[0]?.id ?? '');
                    setValues(k.kind === 's3' ? { 'config.region': 'us-east-1' } : {});
                    setReport(null);
                    setStep('name');
                  }}
                >
                  <KindLogo kind={k.kind} />
                  <span>
                    <span className={css.kindTitle}>{k.title}</span>
                    <br />
                    <span className={ui.muted}>{k.blurb}</span>
                  </span>
                </button>
              ))}
            </div>
          ) : null}

          {step === 'name' && spec ? (
            <form onSubmit={(e) => next(e, 'settings')}>
              <div className={ui.row} style={{ marginBottom: '1rem' }}>
                <KindLogo kind={spec.kind} size={32} /> <strong>{spec.title}</strong>
              </div>
              <Field
                label="Drive name"
                path="/name"
                help="How datasets refer to this drive: 1–63 characters of a–z, 0–9 and -."
                mismatch="Use 1–63 characters of a–z, 0–9 and -, starting with a letter or digit (no spaces or other signs)."
              >
                {/* `-` is escaped: browsers compile `pattern` with the `v` flag, where a bare `-` in a class is an error and the check silently never runs. */}
                {(id) => (
                  <input
                    id={id}
                    className={ui.input}
                    value={name}
                    onChange={(e) => setName(e.target.value.toLowerCase())}
                    pattern="[a-z0-9][a-z0-9\-]{0,62}"
                    required
                    autoFocus
                  />
                )}
              </Field>
              <Field label="Description (optional)" path="/description">
                {(id) => (
                  <input
                    id={id}
                    className={ui.input}
                    value={description}
                    onChange={(e) => setDescription(e.target.value)}
                  />
                )}
              </Field>
              <div className={ui.row}>
                <button type="button" className={ui.button} onClick={() => setStep('kind')}>
                  Back
                </button>
                <button type="submit" className={`${ui.button} ${ui.primary}`}>
                  Next
                </button>
              </div>
            </form>
          ) : null}

          {step === 'settings' && spec ? (
            <form onSubmit={(e) => next(e, 'test')}>
              <h2 style={{ marginTop: 0 }}>Where the data goes</h2>
              <div className={ui.grid2}>
                {spec.config.map((f) => (
                  <FieldInput key={f.key} f={f} value={values[f.key]} onChange={(v) => set(f.key, v)} />
                ))}
              </div>
              {spec.credentials.length > 0 ? (
                <>
                  <h2>Credentials</h2>
                  {spec.credentials.length > 1 ? (
                    <Field label="Sign in with">
                      {(id) => (
                        <select
                          id={id}
                          className={ui.select}
                          value={variant}
                          onChange={(e) => setVariant(e.target.value)}
                        >
                          {spec.credentials.map((c) => (
                            <option key={c.id} value={c.id}>
                              {c.label}
                            </option>
                          ))}
                        </select>
                      )}
                    </Field>
                  ) : null}
                  <div className={ui.grid2}>
                    {creds?.fields.map((f) => (
                      <FieldInput key={f.key} f={f} value={values[f.key]} onChange={(v) => set(f.key, v)} />
                    ))}
                  </div>
                  <p className={ui.help}>
                    Credentials are kept in the vault (as drives/{name || '<name>'}/credentials) and never shown again.
                  </p>
                </>
              ) : null}
              <div className={ui.row}>
                <button type="button" className={ui.button} onClick={() => setStep('name')}>
                  Back
                </button>
                <button type="submit" className={`${ui.button} ${ui.primary}`}>
                  Next: test
                </button>
              </div>
            </form>
          ) : null}

          {step === 'test' && spec ? (
            <div>
              <p>
                Strongroom now checks the drive step by step: reaching it, signing in, the bucket, a write/read/delete
                probe, CORS and versioning. Nothing is saved until you add the drive.
              </p>
              <div className={ui.row} style={{ marginBottom: '1rem' }}>
                <button type="button" className={ui.button} onClick={() => setStep('settings')}>
                  Back to settings
                </button>
                <button
                  type="button"
                  className={`${ui.button} ${report?.ok ? '' : ui.primary}`}
                  onClick={test}
                  disabled={busy !== null}
                >
                  {busy === 'test' ? 'Testing…' : 'Test'}
                </button>
                <button
                  type="button"
                  className={`${ui.button} ${ui.primary}`}
                  onClick={add}
                  disabled={busy !== null || !report?.ok}
                >
                  {busy === 'add' ? 'Adding…' : 'Add Drive'}
                </button>
              </div>
              {!report && !error ? (
                <Notice kind="info">Run the test; Add Drive is enabled once it passes.</Notice>
              ) : null}
              <Problem error={error} />
              {report ? <DiagnosisView report={report} /> : null}
            </div>
          ) : null}
        </FieldErrors>
      </div>
    </>
  );
}
