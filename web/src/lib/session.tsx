/**
 * Who is signed in, and in which workspace. The session is the server's (an HttpOnly cookie the
 * console never sees); this only mirrors `GET /api/v1/auth/me`. When any request finds the
 * session ended, `expired` is set and the sign-in screen replaces the page at the same URL, so
 * signing in again returns the user to where they were.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import type { MeInfo, WorkspaceMembership } from '../../../src/contracts/index.ts';
import { ApiError, api, onSessionExpired } from './api.ts';

const WORKSPACE_KEY = 'strongroom.workspace';

export interface SessionState {
  me: MeInfo | undefined;
  loading: boolean;
  /** The session ended while the console was open (sign in again to continue). */
  expired: boolean;
  workspace: WorkspaceMembership | undefined;
  setWorkspace(id: string): void;
  /** Re-read /auth/me (after sign-in, MFA enrolment). */
  refresh(): Promise<void>;
  signOut(): Promise<void>;
}

const Ctx = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [expired, setExpired] = useState(false);
  const [wsId, setWsId] = useState<string | null>(() => window.localStorage.getItem(WORKSPACE_KEY));
  const me = useQuery({
    queryKey: ['me'],
    queryFn: async () => {
      try {
        return await api.auth.me();
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return null;
        throw err;
      }
    },
    staleTime: 60_000,
    retry: false,
  });

  useEffect(
    () =>
      onSessionExpired(() => {
        // Only a session that existed can end: a first visit without one just signs in.
        if (qc.getQueryData(['me'])) setExpired(true);
        qc.setQueryData(['me'], null);
      }),
    [qc],
  );

  const info = me.data ?? undefined;
  const workspace = useMemo(() => {
    const list = info?.workspaces ?? [];
    return list.find((w) => w.id === wsId) ?? list.find((w) => w.id === 'default') ?? list[0];
  }, [info, wsId]);

  const setWorkspace = useCallback(
    (id: string) => {
      window.localStorage.setItem(WORKSPACE_KEY, id);
      setWsId(id);
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
    },
    [qc],
  );

  const refresh = useCallback(async () => {
    await qc.invalidateQueries({ queryKey: ['me'] });
    await qc.refetchQueries({ queryKey: ['me'] });
    setExpired(false);
  }, [qc]);

  const signOut = useCallback(async () => {
    try {
      await api.auth.logout();
    } finally {
      qc.setQueryData(['me'], null);
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
      setExpired(false);
    }
  }, [qc]);

  const value: SessionState = { me: info, loading: me.isPending, expired, workspace, setWorkspace, refresh, signOut };
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}

/** The current workspace (pages render only inside the signed-in shell, where there is one). */
export function useWorkspace(): WorkspaceMembership {
  const { workspace } = useSession();
  if (!workspace) throw new Error('no workspace');
  return workspace;
}

const has = (w: WorkspaceMembership | undefined, roles: string[]) => Boolean(w?.roles.some((r) => roles.includes(r)));
/** What the current roles allow, for showing or hiding actions (the server decides regardless). */
export function usePermissions() {
  const { workspace } = useSession();
  return {
    admin: has(workspace, ['owner', 'admin']),
    manageData: has(workspace, ['owner', 'admin', 'engineer']),
    readData: has(workspace, ['owner', 'admin', 'engineer', 'steward', 'analyst']),
    /** Drives and the vault's metadata: data managers and metadata readers. */
    metadata: has(workspace, ['owner', 'admin', 'engineer', 'auditor']),
    audit: has(workspace, ['owner', 'admin', 'auditor']),
    /** The workspace's user list (names for ids): workspace admins and metadata readers. */
    listUsers: has(workspace, ['owner', 'admin', 'auditor']),
    /** Reveal a secret's value: owners and admins (others only if a workspace policy allows it). */
    reveal: has(workspace, ['owner', 'admin', 'engineer']),
    /** Destroy a secret version for ever: owners and admins. */
    destroy: has(workspace, ['owner', 'admin']),
  };
}
