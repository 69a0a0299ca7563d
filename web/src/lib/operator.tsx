/**
 * The operator token for installation-wide pages (Backups, Retention): typed into a page, kept in
 * this tab's memory only (a module variable, gone on reload; never stored, never sent anywhere but
 * this server, never with the session cookie).
 */
import { useState, useSyncExternalStore, type FormEvent } from 'react';
import { createApi, problemError, type Api } from '../../../src/client/api.ts';
import { Field, ui } from '../ui/components.tsx';

/** The shared client with the operator token instead of the session (no cookie sent). */
export function operatorApi(token: string): Api {
  return createApi({
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await fetch(path, {
        method,
        credentials: 'omit',
        cache: 'no-store',
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${token}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      if (!res.ok) throw problemError(res.status, parsed);
      return parsed as T;
    },
  });
}

let current: { token: string; api: Api } | null = null;
const listeners = new Set<() => void>();
const subscribe = (l: () => void) => {
  listeners.add(l);
  return () => listeners.delete(l);
};
function setToken(token: string | null) {
  current = token ? { token, api: operatorApi(token) } : null;
  for (const l of listeners) l();
}

/** The operator client while a token is held in memory, and a way to forget it. */
export function useOperator(): { api: Api | null; forget: () => void } {
  const held = useSyncExternalStore(subscribe, () => current);
  return { api: held?.api ?? null, forget: () => setToken(null) };
}

/** Asks for the operator token; the pages below it appear once one is held. */
export function OperatorTokenForm({ what }: { what: string }) {
  const [token, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (token.trim()) setToken(token.trim());
  };
  return (
    <form className={ui.panel} onSubmit={submit} aria-label="Operator token">
      <h2 style={{ marginTop: 0 }}>Operator token</h2>
      <p className={ui.muted}>
        {what} belong to the whole installation, so this page works with the operator token (the file{' '}
        <code>operator.token</code> in the data directory). It stays in this tab&apos;s memory only.
      </p>
      <Field label="Operator token">
        {(id) => (
          <input
            id={id}
            className={ui.input}
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setValue(e.target.value)}
            required
          />
        )}
      </Field>
      <button className={`${ui.button} ${ui.primary}`}>Use token</button>
    </form>
  );
}
