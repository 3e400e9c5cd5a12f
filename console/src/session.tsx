// Who is signed in: the key in sessionStorage, checked with WhoAmI; the roles decide which pages
// show. A refused key (revoked, expired, mistyped) leads to a page that says so. A later check
// that fails otherwise (the server unreachable for a moment) leaves the pages as they are, with
// a note: what was typed into them is not lost.
import { useQuery } from "@connectrpc/connect-query";
import { Code, ConnectError, IdentityService, Role, type User } from "@flowhook/sdk";
import { useQueryClient } from "@tanstack/react-query";
import { createContext, useContext, useState, type FormEvent, type ReactNode } from "react";
import { apiKey, setApiKey } from "./api";
import { ErrorNote, Loading } from "./ui";

export type Session = {
  user: User;
  groupIds: string[];
  isAdmin: boolean;
  isDesigner: boolean;
  /** USER or ADMIN: the inbox, starting and acting on instances. */
  isUser: boolean;
  /** The last check of the account failed (not refused): the error, and a way to check again. */
  stale?: { error: unknown; retry: () => void };
  signOut: () => void;
};

const SessionContext = createContext<Session | undefined>(undefined);

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside <SignedIn>");
  return s;
}

/** Renders children for a signed-in caller; otherwise the sign-in page. */
export function SignedIn({ children }: { children: ReactNode }) {
  const [key, setKey] = useState(apiKey());
  const qc = useQueryClient();
  const signOut = () => {
    setApiKey("");
    qc.clear();
    setKey("");
  };
  const signIn = (k: string) => {
    qc.clear();
    setApiKey(k);
    setKey(k);
  };
  if (key === "") return <SignIn onSignIn={signIn} />;
  return (
    <WhoAmI key={key} signOut={signOut} signIn={signIn}>
      {children}
    </WhoAmI>
  );
}

function WhoAmI({ children, signOut, signIn }: { children: ReactNode; signOut: () => void; signIn: (k: string) => void }) {
  const who = useQuery(IdentityService.method.whoAmI, {}, { retry: false, staleTime: 60_000 });
  if (who.isPending) return <Loading what="your account" />;
  const data = who.data;
  if (who.error) {
    const code = ConnectError.from(who.error).code;
    if (code === Code.Unauthenticated || code === Code.PermissionDenied) {
      return <SignIn onSignIn={signIn} refused={ConnectError.from(who.error).rawMessage} />;
    }
  }
  if (!data) {
    return (
      <main className="signin">
        <ErrorNote error={who.error} title="flowhook could not be reached" />
        <button type="button" onClick={() => who.refetch()}>
          Try again
        </button>{" "}
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </main>
    );
  }
  const user = data.user!;
  const session: Session = {
    user,
    groupIds: data.groupIds,
    isAdmin: user.roles.includes(Role.ADMIN),
    isDesigner: user.roles.includes(Role.ADMIN) || user.roles.includes(Role.DESIGNER),
    isUser: user.roles.includes(Role.ADMIN) || user.roles.includes(Role.USER),
    stale: who.error ? { error: who.error, retry: () => void who.refetch() } : undefined,
    signOut,
  };
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

function SignIn({ onSignIn, refused }: { onSignIn: (key: string) => void; refused?: string }) {
  const [key, setKey] = useState("");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (key.trim() !== "") onSignIn(key.trim());
  };
  return (
    <main className="signin">
      <h1>flowhook console</h1>
      {refused !== undefined && (
        <div className="error" role="alert" id="key-refused">
          <strong>Your API key was refused.</strong>
          <p>
            It may have been revoked, have expired, or be mistyped ({refused}). Ask an administrator for a new key, or sign in
            with another.
          </p>
        </div>
      )}
      <form onSubmit={submit} className="card">
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input
            id="api-key"
            name="api-key"
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={key}
            onChange={(e) => setKey(e.target.value)}
            required
            autoFocus
          />
        </div>
        <p className="muted">
          The key stays in this tab only (sessionStorage) and is sent as a bearer token to this server. <code>flowhook dev</code>{" "}
          prints an administrator's key when it starts.
        </p>
        <button type="submit" className="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
