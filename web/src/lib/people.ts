/**
 * Names for user ids: "you (email)" for the signed-in user, "Name (email)" for the workspace's
 * users when the viewer may list them (owners, admins and auditors), else "another member" — never
 * a fragment of an id, which tells a person nothing. (Naming uploaders to every role needs the API
 * to answer with their names; until then the id stays in the audit trail.)
 */
import { useQuery } from '@tanstack/react-query';
import { api } from './api.ts';
import { usePermissions, useSession, useWorkspace } from './session.tsx';

export function usePeople(): (id: string) => string {
  const { me } = useSession();
  const ws = useWorkspace();
  const can = usePermissions();
  const users = useQuery({
    queryKey: ['users', ws.id],
    queryFn: () => api.users.list(ws.id),
    enabled: can.listUsers,
    staleTime: 60_000,
  });
  return (id: string) => {
    if (id === me?.user.id) return `you (${me.user.email})`;
    const u = users.data?.users.find((x) => x.id === id);
    if (u) return u.displayName && u.displayName !== u.email ? `${u.displayName} (${u.email})` : u.email;
    return /^[0-9a-f-]{36}$/.test(id) ? 'another member' : id;
  };
}
