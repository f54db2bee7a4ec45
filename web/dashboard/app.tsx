/**
 * The dashboard's shell: who is signed in, and which screen the hash route shows.
 *
 * Signing in: behind Cloudflare Access (production) the browser already carries an Access
 * session, so a call without a token succeeds and there is no form. Otherwise (local runs, a
 * photographer's scoped token) the organiser pastes an admin token; it lives in sessionStorage,
 * so it is gone when the tab closes, and goes out as `Authorization: Bearer`.
 */
import { useEffect, useState } from "preact/hooks";
import { AdminApi, AdminApiError } from "../shared/admin-api";
import { ApiContext } from "./context";
import { EventPage } from "./event-page";
import { EventsList } from "./events-list";
import { useRoute } from "./router";
import { SignIn } from "./sign-in";
import { Webhooks } from "./webhooks";
import { Slideshow } from "./slideshow";

const apiOrigin: string = import.meta.env.VITE_API_ORIGIN ?? "";
const TOKEN_KEY = "admin-token";

type Session =
  | { state: "checking" }
  | { state: "signed-out"; problem: string | null }
  | { state: "signed-in"; api: AdminApi };

/**
 * Whether `token` (or, when null, the browser's Access session) gets into the admin API; a
 * token that does is kept for this tab, one that is refused is forgotten (one that could not be
 * checked, the server being unreachable, is kept for the next try). `onExpired` runs when a
 * later call is refused: the token was revoked or the Access session lapsed.
 */
async function trySession(token: string | null, onExpired: () => void): Promise<Session> {
  const api = new AdminApi(apiOrigin, token, onExpired);
  try {
    await api.listEvents();
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    return { state: "signed-in", api };
  } catch (error) {
    if (!(error instanceof AdminApiError && (error.status === 401 || error.status === 403))) {
      return { state: "signed-out", problem: error instanceof Error ? error.message : String(error) };
    }
    sessionStorage.removeItem(TOKEN_KEY);
    return { state: "signed-out", problem: token ? "That token was not accepted. Check it and try again." : null };
  }
}

export function App() {
  const [session, setSession] = useState<Session>({ state: "checking" });

  const signIn = async (token: string | null) => {
    setSession(
      await trySession(token, () => {
        sessionStorage.removeItem(TOKEN_KEY);
        setSession({ state: "signed-out", problem: "Your sign-in is no longer accepted. Sign in again." });
      }),
    );
  };

  useEffect(() => {
    void signIn(sessionStorage.getItem(TOKEN_KEY));
  }, []);

  const signOut = () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setSession({ state: "signed-out", problem: null });
  };

  if (session.state === "checking") {
    return (
      <main class="page" id="main">
        <p role="status">Checking your sign-in…</p>
      </main>
    );
  }
  if (session.state === "signed-out") return <SignIn problem={session.problem} onSubmit={signIn} />;
  return (
    <ApiContext.Provider value={session.api}>
      <SignedIn onSignOut={session.api.token ? signOut : null} />
    </ApiContext.Provider>
  );
}

function GlobalWebhooks() {
  useEffect(() => {
    document.title = "Global webhooks · Photo uploads";
  }, []);
  return (
    <div class="stack">
      <p>
        <a href="#/">← Events</a>
      </p>
      <h1>Global webhooks</h1>
      <Webhooks eventId={null} />
    </div>
  );
}

function SignedIn({ onSignOut }: { onSignOut: (() => void) | null }) {
  const route = useRoute();

  // The projector page has no dashboard chrome at all.
  if (route.name === "slideshow") return <Slideshow eventId={route.eventId} />;
  return (
    <>
      {/* Not a plain #main link: the hash is the route. */}
      <a
        class="skip-link"
        href="#main"
        onClick={(click) => {
          click.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="topbar no-print">
        <a class="brand" href="#/">
          Photo uploads <span class="muted">· organisers</span>
        </a>
        {onSignOut && (
          <button type="button" class="button button-small" onClick={onSignOut}>
            Sign out
          </button>
        )}
      </header>
      <main class="page" id="main" tabIndex={-1}>
        {route.name === "events" && <EventsList />}
        {route.name === "webhooks" && <GlobalWebhooks />}
        {route.name === "event" && <EventPage key={route.eventId} eventId={route.eventId} tab={route.tab} />}
        {route.name === "not-found" && (
          <>
            <h1>Page not found</h1>
            <p>
              <a href="#/">Back to the events</a>
            </p>
          </>
        )}
      </main>
    </>
  );
}
