/**
 * Create a secret or write its next version, with a form per type. Values go into password
 * fields (or text areas for PEM), are sent once and are never shown again by this form. A new
 * version starts from the secret's metadata and, when the current value was just revealed, from
 * its non-secret fields (username, key id, account name, certificate); secret fields stay empty.
 * The server's validation issues show at the fields they are about.
 */
import { useState, type FormEvent } from 'react';
import type { SecretMetadata, SecretType } from '../../../src/contracts/index.ts';
import { api } from '../lib/api.ts';
import { useWorkspace } from '../lib/session.tsx';
import { Field, FieldErrors, IssueAt, Problem, ui } from '../ui/components.tsx';
import { KINDS } from './drive-kinds.tsx';

const TYPES: { type: SecretType; label: string }[] = [
  { type: 'password', label: 'Password' },
  { type: 'api-key', label: 'API key' },
  { type: 'cloud-credential', label: 'Cloud credential' },
  { type: 'certificate', label: 'Certificate' },
  { type: 'generic', label: 'Key/value pairs' },
];

interface ValueField {
  key: string;
  label: string;
  secret?: boolean;
  optional?: boolean;
  pem?: boolean;
  help?: string;
}

const FIELDS: Record<Exclude<SecretType, 'cloud-credential' | 'generic'>, ValueField[]> = {
  password: [
    { key: 'username', label: 'Username', optional: true },
    { key: 'password', label: 'Password', secret: true },
  ],
  'api-key': [
    { key: 'keyId', label: 'Key ID', optional: true },
    { key: 'key', label: 'Key', secret: true },
  ],
  certificate: [
    { key: 'certificate', label: 'Certificate (PEM)', pem: true },
    {
      key: 'privateKey',
      label: 'Private key (PEM)',
      pem: true,
      optional: true,
      help: 'Kept sealed; only a reveal shows it.',
    },
    { key: 'chain', label: 'Chain (PEM)', pem: true, optional: true },
  ],
};
const CLOUD = KINDS.flatMap((k) =>
  k.credentials.map((c) => ({ ...c, id: `${k.kind}:${c.id}`, label: `${k.title} — ${c.label}` })),
);

/** What a new version may start from: the form's values without any secret field. */
export interface Prefill {
  values: Record<string, string>;
  cloud?: string;
  pairs?: { k: string; v: string }[];
}

/** The non-secret fields of a revealed value, as the form's initial values. */
export function nonSecretFields(type: SecretType, value: Record<string, unknown>): Prefill {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const pick = (
    fields: { key: string; secret?: boolean; optional?: boolean }[],
    key: (k: string) => string = (k) => k,
  ) =>
    Object.fromEntries(
      fields
        .filter((f) => !f.secret && str(value[f.key.replace(/^credentials\./, '')]))
        .map((f) => [key(f.key.replace(/^credentials\./, '')), str(value[f.key.replace(/^credentials\./, '')])!]),
    );
  if (type === 'generic') {
    const data = (value.data ?? {}) as Record<string, unknown>;
    return { values: {}, pairs: Object.keys(data).map((k) => ({ k, v: '' })) };
  }
  if (type === 'cloud-credential') {
    const variant =
      CLOUD.find((c) => Object.entries(c.fixed).every(([k, v]) => value[k] === v)) ??
      CLOUD.find((c) => c.fixed.provider === value.provider);
    if (!variant) return { values: {} };
    return { cloud: variant.id, values: pick(variant.fields, (k) => `cloud.${k}`) };
  }
  // The private key of a certificate is secret; the certificate and its chain are public.
  return { values: pick(FIELDS[type].map((f) => ({ ...f, secret: f.secret || f.key === 'privateKey' }))) };
}

export function SecretForm({
  existing,
  prefill,
  onSaved,
  onCancel,
}: {
  existing?: SecretMetadata;
  prefill?: Prefill;
  onSaved: (path: string) => void;
  onCancel: () => void;
}) {
  const ws = useWorkspace();
  const [path, setPath] = useState(existing?.path ?? '');
  const [type, setType] = useState<SecretType>(existing?.type ?? 'password');
  const [values, setValues] = useState<Record<string, string>>(prefill?.values ?? {});
  const [cloud, setCloud] = useState(prefill?.cloud ?? CLOUD[0]!.id);
  const [pairs, setPairs] = useState<{ k: string; v: string }[]>(
    prefill?.pairs?.length ? prefill.pairs : [{ k: '', v: '' }],
  );
  const [description, setDescription] = useState(existing?.description ?? '');
  const [tags, setTags] = useState(existing?.tags.join(', ') ?? '');
  const [rotateEvery, setRotateEvery] = useState(existing?.rotateEvery ?? '');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: string, v: string) => setValues((o) => ({ ...o, [k]: v }));

  function value(): Record<string, unknown> {
    if (type === 'generic') return { data: Object.fromEntries(pairs.filter((p) => p.k).map((p) => [p.k, p.v])) };
    if (type === 'cloud-credential') {
      const variant = CLOUD.find((c) => c.id === cloud)!;
      const out: Record<string, unknown> = { ...variant.fixed };
      for (const f of variant.fields) {
        const k = f.key.slice('credentials.'.length);
        const v = values[`cloud.${k}`];
        if (!v) continue;
        try {
          out[k] = k === 'serviceAccount' ? JSON.parse(v) : v;
        } catch {
          out[k] = v;
        }
      }
      return out;
    }
    return Object.fromEntries(FIELDS[type].filter((f) => values[f.key]).map((f) => [f.key, values[f.key]]));
  }

  async function save(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const tagList = tags
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean);
      await api.secrets.write(ws.id, path.trim(), {
        type,
        value: value(),
        ...(existing ? { cas: existing.currentVersion } : {}),
        metadata: {
          description,
          tags: tagList,
          ...(rotateEvery ? { rotateEvery } : existing?.rotateEvery ? { rotateEvery: null } : {}),
        },
      });
      setValues({});
      onSaved(path.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const input = (
    key: string,
    f: { label: string; secret?: boolean; optional?: boolean; pem?: boolean; help?: string },
  ) => (
    <Field
      key={key}
      label={`${f.label}${f.optional ? ' (optional)' : ''}`}
      help={f.help}
      path={`/value/${key.replace(/^cloud\./, '')}`}
    >
      {(id) =>
        f.pem ? (
          <textarea
            id={id}
            className={ui.textarea}
            value={values[key] ?? ''}
            onChange={(e) => set(key, e.target.value)}
            required={!f.optional}
            spellCheck={false}
          />
        ) : (
          <input
            id={id}
            className={ui.input}
            type={f.secret ? 'password' : 'text'}
            autoComplete={f.secret ? 'new-password' : 'off'}
            value={values[key] ?? ''}
            onChange={(e) => set(key, e.target.value)}
            required={!f.optional}
          />
        )
      }
    </Field>
  );

  return (
    <form className={ui.panel} onSubmit={save} aria-label={existing ? 'New version' : 'New secret'}>
      <h2 style={{ marginTop: 0 }}>{existing ? `New version of ${existing.path}` : 'New secret'}</h2>
      <Problem error={error} />
      {existing && prefill ? (
        <p className={ui.muted}>
          Started from the revealed version {existing.currentVersion}: its secret fields are left empty on purpose.
        </p>
      ) : null}
      {existing && !prefill ? (
        <p className={ui.muted}>
          The description, tags and rotation are kept; type the value again (reveal the current version first to start
          from its non-secret fields).
        </p>
      ) : null}
      <FieldErrors error={error}>
        <div className={ui.grid2}>
          <Field label="Path" path="/*" where="params" help="Folders separated by /, e.g. team/warehouse/password">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={path}
                onChange={(e) => setPath(e.target.value)}
                required
                disabled={Boolean(existing)}
              />
            )}
          </Field>
          <Field label="Type">
            {(id) => (
              <select
                id={id}
                className={ui.select}
                value={type}
                onChange={(e) => setType(e.target.value as SecretType)}
                disabled={Boolean(existing)}
              >
                {TYPES.map((t) => (
                  <option key={t.type} value={t.type}>
                    {t.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        {type === 'password' || type === 'api-key' || type === 'certificate' ? (
          <div className={ui.grid2}>{FIELDS[type].map((f) => input(f.key, f))}</div>
        ) : null}
        {type === 'cloud-credential' ? (
          <>
            <Field label="Credential kind">
              {(id) => (
                <select id={id} className={ui.select} value={cloud} onChange={(e) => setCloud(e.target.value)}>
                  {CLOUD.map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <div className={ui.grid2}>
              {CLOUD.find((c) => c.id === cloud)!.fields.map((f) =>
                input(`cloud.${f.key.slice('credentials.'.length)}`, {
                  label: f.label,
                  secret: f.secret && !f.multiline,
                  pem: f.multiline,
                  help: f.help,
                }),
              )}
            </div>
          </>
        ) : null}
        {type === 'generic' ? (
          <fieldset style={{ border: 'none', padding: 0, margin: '0 0 0.9rem' }}>
            <legend className={ui.label}>Entries</legend>
            <IssueAt path="/value" label="Entries" />
            {pairs.map((p, i) => (
              <div key={i} className={ui.row} style={{ marginBottom: '0.4rem' }}>
                <input
                  className={ui.input}
                  style={{ flex: 1 }}
                  aria-label={`Name ${i + 1}`}
                  placeholder="name"
                  value={p.k}
                  onChange={(e) => setPairs(pairs.map((x, j) => (j === i ? { ...x, k: e.target.value } : x)))}
                />
                <input
                  className={ui.input}
                  style={{ flex: 2 }}
                  aria-label={`Value ${i + 1}`}
                  type="password"
                  autoComplete="new-password"
                  placeholder="value"
                  value={p.v}
                  onChange={(e) => setPairs(pairs.map((x, j) => (j === i ? { ...x, v: e.target.value } : x)))}
                />
              </div>
            ))}
            <button
              type="button"
              className={`${ui.button} ${ui.small}`}
              onClick={() => setPairs([...pairs, { k: '', v: '' }])}
            >
              Add entry
            </button>
          </fieldset>
        ) : null}
        <h3>About this secret</h3>
        <div className={ui.grid2}>
          <Field label="Description (optional)" path="/metadata/description">
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={description}
                onChange={(e) => setDescription(e.target.value)}
              />
            )}
          </Field>
          <Field label="Tags (optional)" path="/metadata/tags" help="Comma-separated labels to find the secret by">
            {(id) => <input id={id} className={ui.input} value={tags} onChange={(e) => setTags(e.target.value)} />}
          </Field>
          <Field
            label="Rotate every (optional)"
            path="/metadata/rotateEvery"
            help="A duration like 90d, 12h or 30m: the vault reminds you when it is due"
          >
            {(id) => (
              <input
                id={id}
                className={ui.input}
                value={rotateEvery}
                onChange={(e) => setRotateEvery(e.target.value)}
              />
            )}
          </Field>
        </div>
      </FieldErrors>
      <div className={ui.row}>
        <button type="button" className={ui.button} onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className={`${ui.button} ${ui.primary}`} disabled={busy}>
          {existing ? 'Save new version' : 'Save secret'}
        </button>
      </div>
    </form>
  );
}
