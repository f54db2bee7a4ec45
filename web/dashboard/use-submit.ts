import { useState } from "preact/hooks";
import type { AdminApiError } from "../shared/admin-api";
import { asApiError } from "./use-load";

export interface Submit {
  /** An action is running: its button is disabled (and may say so). */
  busy: boolean;
  /** Why the last try failed; cleared when the next one starts. */
  error: AdminApiError | null;
  /** Runs `action`; true when it succeeded. */
  run(action: () => Promise<unknown>, options?: { leaves?: boolean }): Promise<boolean>;
}

/**
 * The busy and error state of a form's or a button's action. `leaves`: success takes the form
 * away (a navigation), so it stays busy until it is gone rather than offering a second submit.
 */
export function useSubmit(): Submit {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AdminApiError | null>(null);

  const run = async (action: () => Promise<unknown>, { leaves = false } = {}) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      if (!leaves) setBusy(false);
      return true;
    } catch (reason) {
      setError(asApiError(reason));
      setBusy(false);
      return false;
    }
  };
  return { busy, error, run };
}
