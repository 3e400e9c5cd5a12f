// Who is who: user and group ids in words. Admins may list users and groups, so they see names;
// everyone else sees "you", "your group" or the id.
import type { Assignee } from "@flowhook/sdk";
import { useAll } from "../../all";
import { IdentityService } from "../../api";
import { useSession } from "../../session";

export type Names = {
  user: (id: string) => string;
  group: (id: string) => string;
  assignee: (a: Assignee | undefined) => string;
};

export function useNames(): Names {
  const s = useSession();
  const users = useAll(IdentityService.method.listUsers, {}, (r) => r.users, { enabled: s.isAdmin, staleTime: 60_000 });
  const groups = useAll(IdentityService.method.listGroups, {}, (r) => r.groups, { enabled: s.isAdmin, staleTime: 60_000 });
  const user = (id: string): string => {
    if (id === "") return "flowhook";
    if (id === "timer") return "the timer";
    if (id === s.user.id) return `you (${s.user.displayName || s.user.email})`;
    const u = users.data?.items.find((x) => x.id === id);
    return u ? u.displayName || u.email : `user ${id}`;
  };
  const group = (id: string): string => {
    const g = groups.data?.items.find((x) => x.id === id);
    if (g) return `group ${g.name}`;
    if (s.groupIds.includes(id)) return "your group";
    return `group ${id.slice(0, 8)}…`;
  };
  const assignee = (a: Assignee | undefined): string => {
    switch (a?.assignee.case) {
      case "userId":
        return user(a.assignee.value);
      case "groupId":
        return group(a.assignee.value);
      default:
        return "—";
    }
  };
  return { user, group, assignee };
}
