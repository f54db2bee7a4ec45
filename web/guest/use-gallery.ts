import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure, type GalleryPage, type GuestApi } from "../engine/index.ts";

/** A photo of the guest gallery (README, "The guest API": scrubbed copies and thumbnails only). */
export type GalleryPhoto = GalleryPage["photos"][number];

/** Whether more pages follow ("more"), or not; or why nothing can be shown. */
export type GalleryStatus = "more" | "end" | "error" | "off";

export interface Gallery {
  photos: GalleryPhoto[];
  status: GalleryStatus;
  /** A page is on its way. */
  loading: boolean;
  /** The next page, if there is one (also the way to try again after an error). */
  loadMore: () => void;
  /** Puts photos that arrived since the first page at the top. */
  refreshNewest: () => void;
  remove: (photoId: string) => void;
  /** An image of the gallery failed to load: its signed URL may have expired, so the URLs are renewed (once per URL). */
  imageFailed: (url: string) => void;
}

const PAGE_SIZE = 24;
/** The most photos the server gives in one page. */
const MAX_PAGE_SIZE = 100;
/** Signed URLs are renewed once this share of their life has passed, well before they expire. */
const RENEW_AT_SHARE = 0.75;
/** Never sooner than this: URLs that look expired on arrival (a clock far off) cannot make renewals spin. */
const MIN_RENEW_DELAY_MS = 5_000;
/** After a renewal failed (offline, say), the next try. */
const RENEW_RETRY_MS = 30_000;

type Merge = (page: GalleryPhoto[], next: string | null) => { photos: GalleryPhoto[]; next: string | null | undefined };
type Load = (cursor: string | null, limit: number) => Promise<GalleryPage>;

/**
 * The event's approved photos, newest first, page by page over the server's cursors. Their
 * signed URLs expire (an hour by default), so the pages shown are fetched again before the
 * earliest expiry, and when an image fails to load: a gallery left open for hours shows no
 * broken image.
 */
export function useGallery(api: GuestApi): Gallery {
  const [photos, setPhotos] = useState<GalleryPhoto[]>([]);
  const [status, setStatus] = useState<GalleryStatus>("more");
  const [loading, setLoading] = useState(false);
  const [renewFailures, setRenewFailures] = useState(0);
  // The list as last set, and where the next page starts (undefined: at the first, null: there is none).
  const shown = useRef<GalleryPhoto[]>([]);
  const cursor = useRef<string | null | undefined>(undefined);
  // Requests run one after another, each reading the list and cursor when its turn comes.
  const queue = useRef(Promise.resolve());
  // This device's clock minus the server's, from the last answer: expiry times are the server's.
  const clockOffset = useRef(0);
  const renewQueued = useRef(false);
  const failedUrls = useRef(new Set<string>());

  const load = useCallback<Load>(
    async (start, limit) => {
      const page = await api.gallery(start, limit);
      if (page.servedAt !== null) clockOffset.current = Date.now() - page.servedAt;
      return page;
    },
    [api],
  );

  /**
   * Runs `fetch` in its turn and shows what it returns (null: nothing to do); resolves false if
   * it failed. A failed background fetch leaves the list as it was; a page the guest is waiting
   * for says it failed.
   */
  const enqueue = useCallback((fetch: () => Promise<{ photos: GalleryPhoto[]; next: string | null | undefined } | null>, background: boolean) => {
    const turn = queue.current.then(async () => {
      if (!background) setLoading(true);
      try {
        const merged = await fetch();
        if (!merged) return true;
        shown.current = merged.photos;
        cursor.current = merged.next;
        setPhotos(merged.photos);
        setStatus(merged.next === null ? "end" : "more");
        return true;
      } catch (error) {
        if (error instanceof ApiFailure && error.code === "gallery_disabled") setStatus("off");
        else if (!background) setStatus("error");
        return false;
      } finally {
        if (!background) setLoading(false);
      }
    });
    queue.current = turn.then(() => undefined);
    return turn;
  }, []);

  const fetchPage = useCallback(
    (from: () => string | null | undefined, merge: Merge, background: boolean) =>
      enqueue(async () => {
        const start = from();
        if (start === null) return null;
        const page = await load(start ?? null, PAGE_SIZE);
        return merge(page.photos, page.next_cursor);
      }, background),
    [enqueue, load],
  );

  const loadMore = useCallback(() => {
    void fetchPage(
      () => cursor.current,
      (page, next) => {
        const known = new Set(shown.current.map((photo) => photo.photo_id));
        return { photos: [...shown.current, ...page.filter((photo) => !known.has(photo.photo_id))], next };
      },
      false,
    );
  }, [fetchPage]);

  const refreshNewest = useCallback(() => {
    void fetchPage(
      () => undefined,
      (page, next) => {
        const known = new Set(shown.current.map((photo) => photo.photo_id));
        const fresh = page.filter((photo) => !known.has(photo.photo_id));
        // A whole page of new photos may leave a gap before the ones shown: start over from it.
        if (fresh.length === page.length && next !== null) return { photos: page, next };
        return { photos: [...fresh, ...shown.current], next: cursor.current };
      },
      true,
    );
  }, [fetchPage]);

  /** Fetches as many photos as are shown again, from the first, for fresh URLs (photos hidden since drop out). */
  const renewUrls = useCallback(() => {
    if (renewQueued.current) return;
    renewQueued.current = true;
    const done = enqueue(async () => {
      renewQueued.current = false;
      const wanted = shown.current.length;
      if (wanted === 0) return null;
      const photos: GalleryPhoto[] = [];
      const known = new Set<string>();
      let next: string | null = null;
      do {
        const page = await load(next, Math.min(MAX_PAGE_SIZE, Math.max(PAGE_SIZE, wanted - photos.length)));
        for (const photo of page.photos) {
          if (!known.has(photo.photo_id)) photos.push(photo);
          known.add(photo.photo_id);
        }
        next = page.next_cursor;
      } while (photos.length < wanted && next !== null);
      return { photos, next };
    }, true);
    void done.then((renewed) => setRenewFailures((failures) => (renewed ? 0 : failures + 1)));
  }, [enqueue, load]);

  const remove = useCallback((photoId: string) => {
    shown.current = shown.current.filter((photo) => photo.photo_id !== photoId);
    setPhotos(shown.current);
  }, []);

  const imageFailed = useCallback(
    (url: string) => {
      if (failedUrls.current.has(url)) return;
      failedUrls.current.add(url);
      renewUrls();
    },
    [renewUrls],
  );

  useEffect(loadMore, [loadMore]);

  // Renewal before the earliest URL shown expires; a timer of a page in the background may fire
  // late, so coming back to the page checks too.
  useEffect(() => {
    const expiry = earliestExpiry(photos);
    if (expiry === null) return;
    const dueAt = renewFailures > 0 ? Date.now() + RENEW_RETRY_MS : Date.now() + Math.max(MIN_RENEW_DELAY_MS, (expiry + clockOffset.current - Date.now()) * RENEW_AT_SHARE);
    const timer = setTimeout(renewUrls, dueAt - Date.now());
    const onVisible = () => {
      if (document.visibilityState === "visible" && Date.now() >= dueAt) renewUrls();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [photos, renewFailures, renewUrls]);

  return { photos, status, loading, loadMore, refreshNewest, remove, imageFailed };
}

/** When the first of the photos' signed URLs expires (the server's clock, ms), from their `exp` parameter; null if none says. */
function earliestExpiry(photos: readonly GalleryPhoto[]): number | null {
  let earliest = Infinity;
  for (const photo of photos) {
    for (const url of Object.values(photo.urls)) {
      if (!url) continue;
      const exp = Number(new URL(url, location.href).searchParams.get("exp"));
      if (exp > 0) earliest = Math.min(earliest, exp * 1000);
    }
  }
  return earliest === Infinity ? null : earliest;
}
