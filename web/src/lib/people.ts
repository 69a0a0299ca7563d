/**
 * Names for user ids: "you (email)" for the signed-in user, "Name (email)" for the workspace's
 * members (every role may list their names, `GET …/members`), else "someone outside this
 * workspace" — never a fragment of an id, which tells a person nothing.
 */
import { useQuery } from '@tanstack/react-query';
import { api } from './api.ts';
import { useSession, useWorkspace } from './session.tsx';

export function usePeople(): (id: string) => string {
  const { me } = useSession();
  const ws = useWorkspace();
  const members = useQuery({
    queryKey: ['members', ws.id],
    queryFn: () => api.users.members(ws.id),
    staleTime: 60_000,
  });
  return (id: string) => {
    if (id === me?.user.id) return `you (${me.user.email})`;
    const u = members.data?.members.find((x) => x.id === id);
    if (u) return u.displayName && u.displayName !== u.email ? `${u.displayName} (${u.email})` : u.email;
    return /^[0-9a-f-]{36}$/.test(id) ? 'someone outside this workspace' : id;
  };
}
