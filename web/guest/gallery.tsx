import { useEffect, useRef } from "preact/hooks";
import type { GuestApi, UploadEngine } from "../engine/index.ts";
import { formatDateTime, t } from "./i18n.ts";
import { TakeBackButton } from "./take-back-button.tsx";
import { useGallery, type GalleryPhoto } from "./use-gallery.ts";
import { useInView } from "./use-in-view.ts";

interface GalleryProps {
  api: GuestApi;
  engine: UploadEngine;
  /** The photos this device uploaded: photo id → the engine's file id. */
  ownPhotos: ReadonlyMap<string, string>;
}

/** The event's approved photos, newest first, more as the guest scrolls; their own marked, and theirs to take back. */
export function Gallery({ api, engine, ownPhotos }: GalleryProps) {
  const { photos, status, loading, loadMore, refreshNewest, remove, imageFailed } = useGallery(api);
  const heading = useRef<HTMLHeadingElement>(null);

  // A photo of theirs that was just processed belongs at the top.
  const ownCount = ownPhotos.size;
  const seenOwnCount = useRef(ownCount);
  useEffect(() => {
    if (ownCount > seenOwnCount.current) refreshNewest();
    seenOwnCount.current = ownCount;
  }, [ownCount, refreshNewest]);

  return (
    <section class="card" aria-labelledby="gallery-heading">
      <h2 id="gallery-heading" ref={heading} tabIndex={-1}>
        {t.galleryTitle}
      </h2>
      {status === "off" ? <p class="notice">{t.galleryOff}</p> : <p class="muted">{t.galleryIntro}</p>}
      {photos.length > 0 && (
        <ul class="gallery-grid">
          {photos.map((photo) => {
            const fileId = ownPhotos.get(photo.photo_id);
            const takeBack = fileId
              ? {
                  engine,
                  fileId,
                  onTakenBack: () => {
                    remove(photo.photo_id);
                    heading.current?.focus();
                  },
                }
              : null;
            return <GalleryTile key={photo.photo_id} photo={photo} takeBack={takeBack} onImageError={imageFailed} />;
          })}
        </ul>
      )}
      {status === "end" && photos.length === 0 && <p>{t.galleryEmpty}</p>}
      {(status === "more" || status === "error") && <LoadMore failed={status === "error"} loading={loading} loadMore={loadMore} />}
    </section>
  );
}

interface TakeBack {
  engine: UploadEngine;
  fileId: string;
  onTakenBack: () => void;
}

function GalleryTile({ photo, takeBack, onImageError }: { photo: GalleryPhoto; takeBack: TakeBack | null; onImageError: (url: string) => void }) {
  const when = photo.taken_at ?? photo.uploaded_at;
  const shownWhen = when ? formatDateTime(when) : null;
  const video = photo.media_kind === "video" ? photo.urls.scrubbed : null;
  const thumbnail = photo.urls.thumb_256 ?? photo.urls.thumb_1024 ?? (video ? null : photo.urls.scrubbed);
  const large = photo.urls.thumb_1024 ?? photo.urls.scrubbed ?? thumbnail;
  return (
    <li class={takeBack ? "tile tile-own" : "tile"}>
      {video ? (
        // The guests' copy: the location is blanked as it is served. A neutral tile until a poster arrives.
        <video
          class="tile-video"
          src={video}
          poster={photo.urls.thumb_1024 ?? photo.urls.thumb_256 ?? undefined}
          controls
          playsInline
          preload="metadata"
          aria-label={shownWhen ? t.videoAlt(shownWhen) : t.videoFallbackAlt}
          onError={() => onImageError(video)}
        />
      ) : thumbnail && (
        <a href={large ?? thumbnail} target="_blank" rel="noopener">
          <img
            src={thumbnail}
            alt={shownWhen ? t.photoAlt(shownWhen) : t.photoFallbackAlt}
            width={256}
            height={256}
            loading="lazy"
            decoding="async"
            onError={() => onImageError(thumbnail)}
          />
        </a>
      )}
      {takeBack && (
        <>
          <span class="badge badge-ok tile-badge">{t.galleryYours}</span>
          <TakeBackButton {...takeBack} label={shownWhen ? t.takeBackPhoto(shownWhen) : t.takeBack} />
        </>
      )}
    </li>
  );
}

/**
 * The end of the loaded photos: the next page loads by itself as it scrolls into view, and the
 * button does the same for keyboards (and tries again after an error).
 */
function LoadMore({ failed, loading, loadMore }: { failed: boolean; loading: boolean; loadMore: () => void }) {
  const button = useRef<HTMLButtonElement>(null);
  const inView = useInView(button);
  useEffect(() => {
    if (inView && !failed && !loading) loadMore();
  }, [inView, failed, loading, loadMore]);
  return (
    <div class="gallery-more">
      {failed && <p class="error-text">{t.galleryError}</p>}
      <button ref={button} type="button" class="button" onClick={loadMore}>
        {loading ? t.galleryLoading : failed ? t.tryAgain : t.galleryMore}
      </button>
    </div>
  );
}
