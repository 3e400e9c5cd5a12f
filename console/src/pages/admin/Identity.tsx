// Users, groups and API keys.
import { useMutation, useQuery } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { Role, type ApiKey, type Group, type User } from "@flowhook/sdk";
import { useState, type FormEvent } from "react";
import { AllNote, useAll } from "../../all";
import { IdentityService } from "../../api";
import { Link } from "../../router";
import { useSession } from "../../session";
import { enumLabel, ErrorNote, Loading, Time } from "../../ui";
import { SecretOnce } from "./common";

const ROLES = [Role.ADMIN, Role.DESIGNER, Role.USER] as const;

function useUsers() {
  return useAll(IdentityService.method.listUsers, {}, (r) => r.users);
}

export function UsersTab() {
  const users = useUsers();
  const list = users.data?.items ?? [];
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">Users</h2>
      <ErrorNote error={users.error} title="The users could not be listed" />
      <AllNote list={users} what="users" />
      {users.isPending ? (
        <Loading what="users" />
      ) : (
        <div className="table-wrap card">
          <table id="users-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Roles</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((u) => (
                <UserRow key={u.id} u={u} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <CreateUser />
    </section>
  );
}

function UserRow({ u }: { u: User }) {
  const qc = useQueryClient();
  const me = useSession().user.id === u.id;
  const de = useMutation(IdentityService.method.deactivateUser, { onSuccess: () => qc.invalidateQueries() });
  const re = useMutation(IdentityService.method.reactivateUser, { onSuccess: () => qc.invalidateQueries() });
  const pending = de.isPending || re.isPending;
  return (
    <tr id={`user-${u.id}`} data-email={u.email}>
      <td>{u.displayName}</td>
      <td>{u.email}</td>
      <td>{u.roles.map((r) => enumLabel(Role, r)).join(", ")}</td>
      <td>
        {u.deactivated ? (
          <span className="badge cancelled">
            Deactivated {u.deactivatedAt && <Time ts={u.deactivatedAt} relative />}
          </span>
        ) : (
          <span className="badge done">Active</span>
        )}
      </td>
      <td>
        <Time ts={u.createdAt} />
      </td>
      <td>
        {me ? (
          <span className="muted">You</span>
        ) : u.deactivated ? (
          <button type="button" onClick={() => re.mutate({ userId: u.id })} disabled={pending} aria-label={`Reactivate ${u.email}`}>
            {re.isPending ? "Reactivating…" : "Reactivate"}
          </button>
        ) : (
          <button type="button" className="danger" onClick={() => de.mutate({ userId: u.id })} disabled={pending} aria-label={`Deactivate ${u.email}`}>
            {de.isPending ? "Deactivating…" : "Deactivate"}
          </button>
        )}
        <ErrorNote error={de.error ?? re.error} />
      </td>
    </tr>
  );
}

function CreateUser() {
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [roles, setRoles] = useState<Set<Role>>(new Set([Role.USER]));
  const m = useMutation(IdentityService.method.createUser, {
    onSuccess: () => {
      setName("");
      setEmail("");
      setRoles(new Set([Role.USER]));
      void qc.invalidateQueries();
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    m.mutate({ displayName: name.trim(), email: email.trim(), roles: [...roles] });
  };
  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-user-title">
      <h3 id="new-user-title">New user</h3>
      <div className="inline-form">
        <div className="field">
          <label htmlFor="nu-name">Display name</label>
          <input id="nu-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </div>
        <div className="field">
          <label htmlFor="nu-email">Email</label>
          <input id="nu-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required maxLength={254} />
        </div>
        <fieldset className="roles">
          <legend>Roles</legend>
          {ROLES.map((r) => (
            <div className="field check" key={r}>
              <input
                id={`nu-role-${Role[r]}`}
                type="checkbox"
                checked={roles.has(r)}
                onChange={(e) => {
                  const s = new Set(roles);
                  if (e.target.checked) s.add(r);
                  else s.delete(r);
                  setRoles(s);
                }}
              />
              <label htmlFor={`nu-role-${Role[r]}`}>{enumLabel(Role, r)}</label>
            </div>
          ))}
        </fieldset>
        <button type="submit" className="primary" id="create-user" disabled={m.isPending || roles.size === 0}>
          {m.isPending ? "Creating…" : "Create user"}
        </button>
      </div>
      {m.isSuccess && (
        <p className="success" role="status" id="user-created">
          Created {m.data.user?.email}. Give them an API key in the <Link to="/settings/keys">API keys</Link> tab.
        </p>
      )}
      <ErrorNote error={m.error} title="The user was not created" />
    </form>
  );
}

export function GroupsTab() {
  const groups = useAll(IdentityService.method.listGroups, {}, (r) => r.groups);
  const users = useUsers();
  const list = groups.data?.items ?? [];
  return (
    <section aria-labelledby="groups-title">
      <h2 id="groups-title">Groups</h2>
      <ErrorNote error={groups.error ?? users.error} title="The groups could not be listed" />
      <AllNote list={groups} what="groups" />
      <AllNote list={users} what="users" rest="flowhook has more, which cannot be added as members here" />
      {groups.isPending ? (
        <Loading what="groups" />
      ) : list.length === 0 ? (
        <p>No group yet.</p>
      ) : (
        list.map((g) => <GroupCard key={g.id} g={g} users={users.data?.items ?? []} />)
      )}
      <CreateGroup />
    </section>
  );
}

function GroupCard({ g, users }: { g: Group; users: User[] }) {
  const qc = useQueryClient();
  const [pick, setPick] = useState("");
  const add = useMutation(IdentityService.method.addGroupMember, { onSuccess: () => qc.invalidateQueries() });
  const remove = useMutation(IdentityService.method.removeGroupMember, { onSuccess: () => qc.invalidateQueries() });
  const byId = new Map(users.map((u) => [u.id, u]));
  const others = users.filter((u) => !g.memberIds.includes(u.id));
  return (
    <div className="card" id={`group-${g.id}`} data-name={g.name}>
      <h3>{g.name}</h3>
      {g.description && <p className="muted">{g.description}</p>}
      {g.memberIds.length === 0 ? (
        <p className="muted">No members.</p>
      ) : (
        <ul className="members" aria-label={`Members of ${g.name}`}>
          {g.memberIds.map((id) => {
            const u = byId.get(id);
            const who = u ? `${u.displayName} <${u.email}>` : id;
            return (
              <li key={id}>
                {who}{" "}
                <button type="button" onClick={() => remove.mutate({ groupId: g.id, userId: id })} disabled={remove.isPending} aria-label={`Remove ${u?.email ?? id} from ${g.name}`}>
                  Remove
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (pick) add.mutate({ groupId: g.id, userId: pick }, { onSuccess: () => setPick("") });
        }}
      >
        <div className="field">
          <label htmlFor={`add-${g.id}`}>Add a member to {g.name}</label>
          <select id={`add-${g.id}`} value={pick} onChange={(e) => setPick(e.target.value)}>
            <option value="">Choose a user…</option>
            {others.map((u) => (
              <option key={u.id} value={u.id}>
                {u.displayName} ({u.email})
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={!pick || add.isPending}>
          {add.isPending ? "Adding…" : "Add member"}
        </button>
      </form>
      <ErrorNote error={add.error ?? remove.error} />
    </div>
  );
}

function CreateGroup() {
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [desc, setDesc] = useState("");
  const m = useMutation(IdentityService.method.createGroup, {
    onSuccess: () => {
      setName("");
      setDesc("");
      void qc.invalidateQueries();
    },
  });
  return (
    <form
      className="card"
      aria-labelledby="new-group-title"
      onSubmit={(e) => {
        e.preventDefault();
        m.mutate({ name: name.trim(), description: desc.trim() });
      }}
    >
      <h3 id="new-group-title">New group</h3>
      <div className="inline-form">
        <div className="field">
          <label htmlFor="ng-name">Name</label>
          <input id="ng-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={200} />
        </div>
        <div className="field">
          <label htmlFor="ng-desc">Description</label>
          <input id="ng-desc" value={desc} onChange={(e) => setDesc(e.target.value)} maxLength={4000} />
        </div>
        <button type="submit" className="primary" id="create-group" disabled={m.isPending}>
          {m.isPending ? "Creating…" : "Create group"}
        </button>
      </div>
      {m.isSuccess && (
        <p className="success" role="status" id="group-created">
          Created group {m.data.group?.name}.
        </p>
      )}
      <ErrorNote error={m.error} title="The group was not created" />
    </form>
  );
}

export function KeysTab() {
  const me = useSession().user;
  const users = useUsers();
  const [userId, setUserId] = useState(me.id);
  const keys = useQuery(IdentityService.method.listApiKeys, { userId });
  const owner = users.data?.items.find((u) => u.id === userId) ?? (userId === me.id ? me : undefined);
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">API keys</h2>
      <p className="hint" id="keys-hint">
        A key signs its user in to the API and the console. Its secret is shown once, when created.
      </p>
      <div className="field card">
        <label htmlFor="keys-user">Keys of</label>
        <select id="keys-user" value={userId} onChange={(e) => setUserId(e.target.value)}>
          {(users.data?.items ?? [me]).map((u) => (
            <option key={u.id} value={u.id}>
              {u.displayName} ({u.email}){u.id === me.id ? " — you" : ""}
            </option>
          ))}
        </select>
      </div>
      <AllNote list={users} what="users" />
      <ErrorNote error={keys.error ?? users.error} title="The keys could not be listed" />
      {keys.isPending ? (
        <Loading what="keys" />
      ) : (keys.data?.apiKeys ?? []).length === 0 ? (
        <p id="keys-empty">{owner?.email ?? "This user"} has no API key.</p>
      ) : (
        <div className="table-wrap card">
          <table id="keys-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {(keys.data?.apiKeys ?? []).map((k) => (
                <KeyRow key={k.id} k={k} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {/* One per user: a new key's secret is shown to whoever made it for that user only. */}
      <CreateKey key={userId} userId={userId} who={owner?.email ?? ""} />
    </section>
  );
}

function KeyRow({ k }: { k: ApiKey }) {
  const qc = useQueryClient();
  const [confirm, setConfirm] = useState(false);
  const m = useMutation(IdentityService.method.revokeApiKey, { onSuccess: () => qc.invalidateQueries() });
  return (
    <tr id={`key-${k.id}`} data-name={k.name} data-revoked={k.revokedAt ? "true" : "false"}>
      <td>{k.name || <span className="muted">—</span>}</td>
      <td>
        <code>{k.prefix}…</code>
      </td>
      <td>
        <Time ts={k.createdAt} />
      </td>
      <td>{k.lastUsedAt ? <Time ts={k.lastUsedAt} relative /> : <span className="muted">never</span>}</td>
      <td>
        {k.revokedAt ? (
          <span className="badge cancelled">
            Revoked <Time ts={k.revokedAt} relative />
          </span>
        ) : (
          <span className="badge done">Active</span>
        )}
      </td>
      <td>
        {!k.revokedAt &&
          (!confirm ? (
            <button type="button" className="danger" onClick={() => setConfirm(true)} aria-label={`Revoke key ${k.name || k.prefix}`}>
              Revoke
            </button>
          ) : (
            <div className="row-actions">
              <button type="button" className="danger" id={`confirm-revoke-${k.id}`} onClick={() => m.mutate({ apiKeyId: k.id })} disabled={m.isPending}>
                {m.isPending ? "Revoking…" : "Really revoke"}
              </button>
              <button type="button" onClick={() => setConfirm(false)}>
                Keep it
              </button>
            </div>
          ))}
        <ErrorNote error={m.error} title="The key was not revoked" />
      </td>
    </tr>
  );
}

function CreateKey({ userId, who }: { userId: string; who: string }) {
  const qc = useQueryClient();
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | undefined>();
  const m = useMutation(IdentityService.method.createApiKey, {
    onSuccess: (r) => {
      setSecret(r.secret);
      setName("");
      void qc.invalidateQueries();
    },
  });
  return (
    <form
      className="card"
      aria-labelledby="new-key-title"
      onSubmit={(e) => {
        e.preventDefault();
        m.mutate({ userId, name: name.trim() });
      }}
    >
      <h3 id="new-key-title">New API key{who ? ` for ${who}` : ""}</h3>
      {secret && <SecretOnce title="API key" secret={secret} id="new-key-secret" onDone={() => setSecret(undefined)} />}
      <div className="inline-form">
        <div className="field">
          <label htmlFor="nk-name">Key name</label>
          <input id="nk-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={200} placeholder="e.g. laptop, CI" />
        </div>
        <button type="submit" className="primary" id="create-key" disabled={m.isPending}>
          {m.isPending ? "Creating…" : "Create key"}
        </button>
      </div>
      <ErrorNote error={m.error} title="The key was not created" />
    </form>
  );
}
