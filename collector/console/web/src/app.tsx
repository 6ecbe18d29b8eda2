/**
 * The console's shell: signing in (when the collector has tokens), the navigation and a small router over the
 * paths under /ui/. The caller's role (GET /v1/whoami) decides what is enabled: every page reads, so a token with
 * only the produce role sees the pages disabled, with the reason, rather than error pages.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson, type Role, setUnauthenticatedHandler, storedToken, storeToken } from './api.ts';
import { GroupsPage } from './pages/groups.tsx';
import { LivePage } from './pages/live.tsx';
import { SearchPage } from './pages/search.tsx';
import { TopicsPage } from './pages/topics.tsx';

interface Identity {
  readonly name: string;
  readonly role: Role;
  readonly authentication: boolean;
}

type Session =
  | { readonly kind: 'checking' }
  | { readonly kind: 'signed-out'; readonly error?: string }
  | { readonly kind: 'signed-in'; readonly identity: Identity };

const PAGES = [
  { path: '/ui/search', title: 'Search' },
  { path: '/ui/live', title: 'Live tail' },
  { path: '/ui/topics', title: 'Topics' },
  { path: '/ui/groups', title: 'Consumer groups' },
] as const;

function canRead(role: Role): boolean {
  return role === 'read' || role === 'admin';
}

function TokenForm({ error, onSignIn }: { error?: string; onSignIn: (token: string) => void }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="sign-in"
      onSubmit={(event) => {
        event.preventDefault();
        if (token.trim()) onSignIn(token.trim());
      }}
    >
      <h1>Tributary</h1>
      <p>This collector requires a token. It is kept for this tab only and sent only to this collector.</p>
      <input
        type="password"
        name="token"
        aria-label="token"
        placeholder="token"
        autocomplete="off"
        value={token}
        onInput={(e) => setToken((e.target as HTMLInputElement).value)}
      />
      <button type="submit" class="primary">
        Sign in
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

export function App() {
  const [session, setSession] = useState<Session>({ kind: 'checking' });
  const [path, setPath] = useState(location.pathname);
  const [topics, setTopics] = useState<readonly string[] | undefined>();

  const check = async (token: string | undefined, fromForm: boolean) => {
    try {
      const identity = await getJson<Identity>('/v1/whoami', {}, { silent401: true, ...(token ? { token } : {}) });
      if (fromForm && token) storeToken(token);
      setSession({ kind: 'signed-in', identity });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        storeToken(undefined);
        setSession({
          kind: 'signed-out',
          ...(token ? { error: `The collector refused this token: ${e.message}` } : {}),
        });
      } else setSession({ kind: 'signed-out', error: `Cannot reach the collector: ${(e as Error).message}` });
    }
  };

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      storeToken(undefined);
      setSession({ kind: 'signed-out', error: 'The collector refused the token (revoked or changed): sign in again.' });
    });
    void check(storedToken(), false);
    const onPop = () => setPath(location.pathname);
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const readable = session.kind === 'signed-in' && canRead(session.identity.role);
  useEffect(() => {
    if (!readable) return;
    getJson<{ topics: { name: string }[] }>('/v1/topics')
      .then((a) => setTopics(a.topics.map((t) => t.name)))
      .catch(() => setTopics([]));
  }, [readable]);

  const navigate = (to: string) => {
    history.pushState(null, '', to);
    setPath(location.pathname);
  };

  if (session.kind === 'checking') return <p class="loading">Connecting…</p>;
  if (session.kind === 'signed-out') return <TokenForm error={session.error} onSignIn={(t) => void check(t, true)} />;

  const { identity } = session;
  const page = PAGES.find((p) => path.startsWith(p.path))?.path ?? '/ui/search';
  let body = null;
  if (!readable) {
    body = (
      <p class="notice" role="status">
        The token <b>{identity.name}</b> has the role <b>{identity.role}</b>: it may send records but not read them.
        Search, live tail, topics and consumer groups need a token with the <b>read</b> (or admin) role.
      </p>
    );
  } else if (topics !== undefined) {
    if (page === '/ui/live') body = <LivePage key={path} topics={topics} />;
    else if (page === '/ui/topics') body = <TopicsPage navigate={navigate} />;
    else if (page === '/ui/groups') body = <GroupsPage role={identity.role} />;
    else body = <SearchPage key={path} topics={topics} navigate={navigate} />;
  }
  return (
    <div class="shell">
      <nav>
        <span class="brand">Tributary</span>
        {PAGES.map((p) => (
          <button
            key={p.path}
            type="button"
            class={p.path === page ? 'current' : ''}
            aria-current={p.path === page ? 'page' : undefined}
            disabled={!readable}
            title={readable ? undefined : 'needs a token with the read role'}
            onClick={() => navigate(p.path)}
          >
            {p.title}
          </button>
        ))}
        <span class="who">
          {identity.authentication ? (
            <>
              {identity.name} ({identity.role}){' '}
              <button
                type="button"
                class="link"
                onClick={() => {
                  storeToken(undefined);
                  setSession({ kind: 'signed-out' });
                }}
              >
                Sign out
              </button>
            </>
          ) : (
            'authentication off'
          )}
        </span>
      </nav>
      <main>{body}</main>
    </div>
  );
}
