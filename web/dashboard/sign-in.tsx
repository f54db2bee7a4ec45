import { useEffect, useRef, useState } from "preact/hooks";
import { useSubmit } from "./use-submit";

/**
 * The token form, shown only when the API refuses a call without one (no Cloudflare Access in
 * front of it, as in local runs). `npm start` prints the local admin token.
 */
export function SignIn({ problem, onSubmit }: { problem: string | null; onSubmit: (token: string) => Promise<void> }) {
  const [token, setToken] = useState("");
  // The form's problem is `problem`, from the shell: onSubmit reports there rather than throwing.
  const { busy, run } = useSubmit();
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = "Sign in · Photo uploads";
    input.current?.focus();
  }, [problem]);

  const submit = (event: Event) => {
    event.preventDefault();
    return run(() => onSubmit(token.trim()));
  };

  return (
    <main class="page sign-in" id="main">
      <form class="card stack" onSubmit={submit} aria-describedby={problem ? "sign-in-problem" : undefined}>
        <h1>Sign in</h1>
        <p class="muted">Organisers sign in with an admin token. Running locally, `npm start` prints one.</p>
        {problem && (
          <p id="sign-in-problem" class="notice notice-error" role="alert">
            {problem}
          </p>
        )}
        <div class="field">
          <label for="admin-token">Admin token</label>
          <input
            ref={input}
            id="admin-token"
            type="password"
            autocomplete="current-password"
            required
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
          />
        </div>
        <button class="button button-primary" type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
