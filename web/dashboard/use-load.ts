import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { AdminApiError } from "../shared/admin-api";

export interface Loaded<T> {
  data: T | undefined;
  error: AdminApiError | null;
  loading: boolean;
  reload(): void;
  /** Replaces the data with what an action returned, without a round trip. */
  setData(data: T): void;
}

/**
 * Runs `load` when `deps` change (and on reload), keeping the last data while it reloads. An
 * answer that arrives after a newer load started is dropped, so fast filter changes never show
 * stale results.
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<AdminApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const latest = useRef(0);

  useEffect(() => {
    const run = ++latest.current;
    setLoading(true);
    load().then(
      (value) => {
        if (run !== latest.current) return;
        setData(value);
        setError(null);
        setLoading(false);
      },
      (reason: unknown) => {
        if (run !== latest.current) return;
        setError(asApiError(reason));
        setLoading(false);
      },
    );
    // `deps` stand for whatever `load` reads; `load` itself is a new closure on every render.
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  return { data, error, loading, reload, setData };
}

/** Anything thrown, as an AdminApiError (a bug in our code shows as one, with its message). */
export function asApiError(reason: unknown): AdminApiError {
  if (reason instanceof AdminApiError) return reason;
  return new AdminApiError(0, "client_error", reason instanceof Error ? reason.message : String(reason));
}
