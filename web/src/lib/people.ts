/**
 * Names for user ids: "you (email)" for the signed-in user, the email for the workspace's users
 * when the viewer may list them (owners and admins), else the id's first characters.
 */
import { useQuery } from '@tanstack/react-query';
import { api } from './api.ts';
import { usePermissions, useSession, useWorkspace } from './session.tsx';

export function usePeople(): (id: string) => string {
  const { me } = useSession();
  const ws = useWorkspace();
  const can = usePermissions();
  const users = useQuery({ queryKey: ['users', ws.id], queryFn: () => api.users.list(ws.id), enabled: can.admin, staleTime: 60_000 });
  return (id: string) => {
    if (id === me?.user.id) return `you (${me.user.email})`;
    const u = users.data?.users.find((x) => x.id === id);
    if (u) return u.email;
    return /^[0-9a-f-]{36}$/.test(id) ? `user ${id.slice(0, 8)}` : id;
  };
}
