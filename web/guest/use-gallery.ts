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
}

const PAGE_SIZE = 24;

type Merge = (page: GalleryPhoto[], next: string | null) => { photos: GalleryPhoto[]; next: string | null | undefined };

/** The event's approved photos, newest first, page by page over the server's cursors. */
export function useGallery(api: GuestApi): Gallery {
  const [photos, setPhotos] = useState<GalleryPhoto[]>([]);
  const [status, setStatus] = useState<GalleryStatus>("more");
  const [loading, setLoading] = useState(false);
  // The list as last set, and where the next page starts (undefined: at the first, null: there is none).
  const shown = useRef<GalleryPhoto[]>([]);
  const cursor = useRef<string | null | undefined>(undefined);
  // Requests run one after another, each reading the list and cursor when its turn comes.
  const queue = useRef(Promise.resolve());

  const fetchPage = useCallback(
    (from: () => string | null | undefined, merge: Merge, { background }: { background: boolean }) => {
      queue.current = queue.current.then(async () => {
        const start = from();
        if (start === null) return;
        setLoading(true);
        try {
          const page = await api.gallery(start ?? null, PAGE_SIZE);
          const merged = merge(page.photos, page.next_cursor);
          shown.current = merged.photos;
          cursor.current = merged.next;
          setPhotos(merged.photos);
          setStatus(merged.next === null ? "end" : "more");
        } catch (error) {
          if (error instanceof ApiFailure && error.code === "gallery_disabled") setStatus("off");
          // A failed refresh leaves the list as it was; a page the guest is waiting for says it failed.
          else if (!background) setStatus("error");
        } finally {
          setLoading(false);
        }
      });
    },
    [api],
  );

  const loadMore = useCallback(() => {
    fetchPage(
      () => cursor.current,
      (page, next) => {
        const known = new Set(shown.current.map((photo) => photo.photo_id));
        return { photos: [...shown.current, ...page.filter((photo) => !known.has(photo.photo_id))], next };
      },
      { background: false },
    );
  }, [fetchPage]);

  const refreshNewest = useCallback(() => {
    fetchPage(
      () => undefined,
      (page, next) => {
        const known = new Set(shown.current.map((photo) => photo.photo_id));
        const fresh = page.filter((photo) => !known.has(photo.photo_id));
        // A whole page of new photos may leave a gap before the ones shown: start over from it.
        if (fresh.length === page.length && next !== null) return { photos: page, next };
        return { photos: [...fresh, ...shown.current], next: cursor.current };
      },
      { background: true },
    );
  }, [fetchPage]);

  const remove = useCallback((photoId: string) => {
    shown.current = shown.current.filter((photo) => photo.photo_id !== photoId);
    setPhotos(shown.current);
  }, []);

  useEffect(loadMore, [loadMore]);

  return { photos, status, loading, loadMore, refreshNewest, remove };
}
