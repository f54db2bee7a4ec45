import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { AdminApiError, Page } from "../shared/admin-api";
import { asApiError } from "./use-load";

export interface Pages<T> {
  items: T[];
  error: AdminApiError | null;
  loading: boolean;
  /** Another page exists (the last answer had a cursor). */
  hasMore: boolean;
  loadMore(): void;
  /** Starts again from the first page. */
  reload(): void;
  /** Changes the loaded items in place (after moderation, or a live update). */
  update(change: (items: T[]) => T[]): void;
}

/**
 * Keyset pages (`next_cursor`) loaded one after another into one list: for "Show more" buttons
 * and infinite scroll. `deps` changing (new filters) starts over; an answer for an older
 * start is dropped.
 */
export function useCursorPages<T>(loadPage: (cursor: string | null) => Promise<Page<T>>, deps: unknown[]): Pages<T> {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [hasMore, setHasMore] = useState(true);
  const [error, setError] = useState<AdminApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const [generation, setGeneration] = useState(0);
  // Which start the list belongs to, and whether a page is on its way (no two at once).
  const start = useRef(0);
  const inFlight = useRef(false);

  const fetchPage = useCallback(
    async (from: string | null, run: number) => {
      inFlight.current = true;
      setLoading(true);
      try {
        const page = await loadPage(from);
        if (run !== start.current) return;
        setItems((current) => (from === null ? page.items : [...current, ...page.items]));
        setCursor(page.next_cursor);
        setHasMore(page.next_cursor !== null);
        setError(null);
      } catch (reason) {
        if (run === start.current) setError(asApiError(reason));
      } finally {
        if (run === start.current) {
          inFlight.current = false;
          setLoading(false);
        }
      }
    },
    // `deps` stand for whatever `loadPage` reads.
    deps,
  );

  useEffect(() => {
    const run = ++start.current;
    setItems([]);
    setCursor(null);
    setHasMore(true);
    void fetchPage(null, run);
  }, [fetchPage, generation]);

  // Also the way to retry: after a failed first page the cursor is still null, and loads it again.
  const loadMore = useCallback(() => {
    if (inFlight.current || !hasMore) return;
    void fetchPage(cursor, start.current);
  }, [fetchPage, cursor, hasMore]);

  return {
    items,
    error,
    loading,
    hasMore,
    loadMore,
    reload: useCallback(() => setGeneration((value) => value + 1), []),
    update: useCallback((change: (items: T[]) => T[]) => setItems(change), []),
  };
}
