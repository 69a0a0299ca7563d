/** Small shared pieces: the error box, empty states, dialogs, fields, badges and page headers. */
import { createContext, useContext, useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ApiError } from '../lib/api.ts';
import { concerns, issuesOf } from '../lib/issues.ts';
import s from './ui.module.css';

/** "/config/accessKeyId" → "access key id" (for issues no field of the form shows). */
const fieldName = (path: string) =>
  path
    .split('/')
    .filter((x) => x && !/^\d+$/.test(x) && x !== '*')
    .pop()
    ?.replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase() ?? 'the request';

/**
 * An error as the server explained it (problem+json title and detail), never a blank screen. A
 * validation problem lists each issue too; the form's fields show theirs beside the input.
 */
export function Problem({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : undefined;
  const issues = issuesOf(error);
  return (
    <div className={`${s.notice} ${s.noticeError}`} role="alert" data-testid="problem">
      <p className={s.noticeTitle}>
        {title ?? (issues.length ? 'Some fields need attention' : (e?.title ?? 'Something went wrong'))}
      </p>
      {e && issues.length ? (
        <ul className={s.issues}>
          {issues.map((i, n) => (
            <li key={n}>
              <strong>{fieldName(i.path)}</strong>: {i.message}
            </li>
          ))}
        </ul>
      ) : e ? (
        <p>
          {title && !(e.detail ?? '').startsWith(e.title) ? `${e.title}. ` : ''}
          {e.detail ?? ''} {e.code && e.code !== 'UNKNOWN' ? <code className={s.muted}>({e.code})</code> : null}
        </p>
      ) : (
        <p>{error instanceof Error ? error.message : String(error)}</p>
      )}
    </div>
  );
}

const FormError = createContext<unknown>(null);
/** The last error of a form: each Field inside shows the validation issues at its API path. */
export function FieldErrors({ error, children }: { error: unknown; children: ReactNode }) {
  return <FormError.Provider value={error}>{children}</FormError.Provider>;
}

export function Notice({
  kind = 'info',
  title,
  children,
}: {
  kind?: 'info' | 'ok' | 'warn' | 'error';
  title?: string;
  children?: ReactNode;
}) {
  const k = { info: s.noticeInfo, ok: s.noticeOk, warn: s.noticeWarn, error: s.noticeError }[kind];
  return (
    <div className={`${s.notice} ${k}`} role={kind === 'error' ? 'alert' : 'status'}>
      {title ? <p className={s.noticeTitle}>{title}</p> : null}
      {children}
    </div>
  );
}

export function Empty({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className={`${s.panel} ${s.empty}`}>
      <p className={s.emptyTitle}>{title}</p>
      <div>{children}</div>
      {action ? <div style={{ marginTop: '1rem' }}>{action}</div> : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className={s.muted} role="status">
      Loading {what}…
    </p>
  );
}

export function PageHead({ title, sub, actions }: { title: string; sub?: ReactNode; actions?: ReactNode }) {
  return (
    <div className={s.pageHead}>
      <div>
        <h1>{title}</h1>
        {sub ? <p className={s.sub}>{sub}</p> : null}
      </div>
      {actions ? <div className={s.row}>{actions}</div> : null}
    </div>
  );
}

/** A modal on the native <dialog>: focus is trapped by the browser, Escape closes it. */
export function Dialog({
  open,
  title,
  onClose,
  children,
  actions,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ReactNode;
  actions?: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog ref={ref} onClose={onClose} aria-label={title}>
      {open ? (
        <>
          <div className={s.dialogBody}>
            <h2 style={{ marginTop: 0 }}>{title}</h2>
            {children}
          </div>
          {actions ? <div className={s.dialogActions}>{actions}</div> : null}
        </>
      ) : null}
    </dialog>
  );
}

/** A destructive action's confirmation: Cancel, and one danger button that runs `onConfirm`; the mutation's error shows inside. */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  confirmLabel: string;
  pending: boolean;
  error?: unknown;
  tone?: 'danger' | 'primary';
  onCancel: () => void;
  onConfirm: () => void;
  children: ReactNode;
}) {
  return (
    <Dialog
      open={props.open}
      title={props.title}
      onClose={props.onCancel}
      actions={
        <>
          <button className={s.button} onClick={props.onCancel}>
            Cancel
          </button>
          <button
            className={`${s.button} ${props.tone === 'primary' ? s.primary : s.danger}`}
            disabled={props.pending}
            onClick={props.onConfirm}
          >
            {props.confirmLabel}
          </button>
        </>
      }
    >
      {props.error !== undefined ? <Problem error={props.error} /> : null}
      {props.children}
    </Dialog>
  );
}

type Checkable = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

/**
 * A labelled input with its help and its error, which is the first of: `check` (the console's own
 * rule, shown as the user types and blocking the form's submit), the browser's constraint
 * validation (required, pattern, type — shown after a submit attempt), or the server's issue at
 * `path` (`where`: body, params or querystring) from the enclosing FieldErrors. `mismatch` words a
 * pattern or type mismatch better than the browser's "Please match the requested format". The input gets
 * aria-invalid and is described by the message.
 */
export function Field(props: {
  label: string;
  help?: ReactNode;
  path?: string | string[];
  where?: string;
  check?: string | undefined;
  mismatch?: string;
  children: (id: string) => ReactNode;
}) {
  const { label, help, path, where, check, children } = props;
  const id = useId();
  const mismatch = useRef(props.mismatch);
  mismatch.current = props.mismatch;
  const error = useContext(FormError);
  const [native, setNative] = useState<string | null>(null);
  const [edited, setEdited] = useState(false);
  useEffect(() => setEdited(false), [error]);
  const issue =
    path && !edited
      ? issuesOf(error).find(
          (i) => [path].flat().some((p) => concerns(p, i.path)) && (!where || !i.location || i.location === where),
        )
      : undefined;
  const message = check || native || issue?.message;

  useEffect(() => {
    const el = document.getElementById(id) as Checkable | null;
    el?.setCustomValidity?.(check ?? '');
  }, [id, check]);
  // A pattern or type mismatch gets the field's own words when it has some (`mismatch`).
  const onInvalid = (e: { target: EventTarget }) => {
    const el = e.target as Checkable;
    if (el.id !== id) return;
    setNative(
      (!el.validity.valueMissing && !el.validity.customError && mismatch.current) ||
        el.validationMessage ||
        'This value is not valid.',
    );
  };
  const onEdit = () => {
    setNative(null);
    setEdited(true);
  };
  useEffect(() => {
    const el = document.getElementById(id);
    if (!el) return;
    const described = [message ? `${id}-error` : '', help ? `${id}-help` : ''].filter(Boolean).join(' ');
    if (described) el.setAttribute('aria-describedby', described);
    else el.removeAttribute('aria-describedby');
    if (message) el.setAttribute('aria-invalid', 'true');
    else el.removeAttribute('aria-invalid');
  }, [id, message, help]);

  return (
    <div
      className={`${s.field} ${message ? s.fieldBad : ''}`}
      onInvalidCapture={onInvalid}
      onInput={onEdit}
      onChange={onEdit}
    >
      <label className={s.label} htmlFor={id}>
        {label}
      </label>
      {children(id)}
      {message ? (
        <span className={s.fieldError} id={`${id}-error`} data-error-for={label}>
          {message}
        </span>
      ) : null}
      {help ? (
        <span className={s.help} id={`${id}-help`}>
          {help}
        </span>
      ) : null}
    </div>
  );
}

/** A validation issue at `path` shown where no single input stands for it (a list of entries). */
export function IssueAt({ path, label }: { path: string; label: string }) {
  const issue = issuesOf(useContext(FormError)).find((i) => concerns(path, i.path));
  return issue ? (
    <span className={s.fieldError} data-error-for={label} role="alert">
      {issue.message}
    </span>
  ) : null;
}

/** Copy a value to the clipboard, saying whether it worked (a failure asks to select it by hand). */
export function CopyButton({ text, what, className }: { text: string; what: string; className?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = window.setTimeout(() => setState('idle'), 4000);
    return () => window.clearTimeout(t);
  }, [state]);
  const copy = () => {
    const clip = navigator.clipboard;
    if (!clip) return setState('failed');
    clip.writeText(text).then(
      () => setState('copied'),
      () => setState('failed'),
    );
  };
  return (
    <button type="button" className={className ?? `${s.button} ${s.small}`} onClick={copy} aria-label={`Copy ${what}`}>
      {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed: select and copy by hand' : 'Copy'}
    </button>
  );
}

/** Save text as a file (a short-lived blob: URL; nothing leaves the browser). */
export function downloadText(filename: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function Badge({ kind, children }: { kind?: 'good' | 'warn' | 'bad'; children: ReactNode }) {
  const k = kind === 'good' ? s.good : kind === 'warn' ? s.warnBadge : kind === 'bad' ? s.badBadge : '';
  return <span className={`${s.badge} ${k}`}>{children}</span>;
}

export function Tags({ tags }: { tags: string[] }) {
  return (
    <>
      {tags.map((t) => (
        <span key={t} className={s.tag}>
          {t}
        </span>
      ))}
    </>
  );
}

/** The message a viewer gets when a page needs a role they do not have (deep links included). */
export function NeedsRole({ page, roles, have }: { page: string; roles: string; have: string[] }) {
  return (
    <Notice kind="warn" title={`${page} is not available to you`}>
      <p>
        This page is for workspace {roles}. You are signed in with the role{have.length === 1 ? '' : 's'}{' '}
        <strong>{have.join(', ') || 'none'}</strong> here. Ask an owner or admin of this workspace if you need access.
      </p>
    </Notice>
  );
}

export { s as ui };
