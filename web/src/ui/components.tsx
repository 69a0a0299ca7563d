/** Small shared pieces: the error box, empty states, dialogs, fields, badges and page headers. */
import { useEffect, useId, useRef, type ReactNode } from 'react';
import { ApiError } from '../lib/api.ts';
import s from './ui.module.css';

/** An error as the server explained it (problem+json title and detail), never a blank screen. */
export function Problem({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : undefined;
  return (
    <div className={`${s.notice} ${s.noticeError}`} role="alert" data-testid="problem">
      <p className={s.noticeTitle}>{title ?? e?.title ?? 'Something went wrong'}</p>
      {e ? (
        <p>
          {title ? `${e.title}. ` : ''}
          {e.detail ?? ''} {e.code && e.code !== 'UNKNOWN' ? <code className={s.muted}>({e.code})</code> : null}
        </p>
      ) : (
        <p>{error instanceof Error ? error.message : String(error)}</p>
      )}
    </div>
  );
}

export function Notice({ kind = 'info', title, children }: { kind?: 'info' | 'ok' | 'warn' | 'error'; title?: string; children?: ReactNode }) {
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
  return <p className={s.muted} role="status">Loading {what}…</p>;
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
export function Dialog({ open, title, onClose, children, actions }: { open: boolean; title: string; onClose: () => void; children: ReactNode; actions?: ReactNode }) {
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
export function ConfirmDialog(props: { open: boolean; title: string; confirmLabel: string; pending: boolean; error?: unknown; onCancel: () => void; onConfirm: () => void; children: ReactNode }) {
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
          <button className={`${s.button} ${s.danger}`} disabled={props.pending} onClick={props.onConfirm}>
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

export function Field({ label, help, children }: { label: string; help?: ReactNode; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className={s.field}>
      <label className={s.label} htmlFor={id}>
        {label}
      </label>
      {children(id)}
      {help ? <span className={s.help}>{help}</span> : null}
    </div>
  );
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
        This page is for workspace {roles}. You are signed in with the role{have.length === 1 ? '' : 's'} <strong>{have.join(', ') || 'none'}</strong> here. Ask an owner or admin of this
        workspace if you need access.
      </p>
    </Notice>
  );
}

export { s as ui };
