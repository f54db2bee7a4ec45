/**
 * The projector page: approved photos, full screen, crossfading; new ones as they are approved
 * (live channel), newest first, then the loop again; the join QR code in a corner.
 *
 * Built to run for hours: two <img> elements take turns (the next photo loads and decodes in the
 * hidden one, then the two swap), nothing else is created per photo, no object URLs are made,
 * and the playlist is bounded. Videos play muted in one <video> element for their length, up to
 * VIDEO_CAP_S, then the show moves on. Signed photo URLs last about an hour, so the list is read again
 * at every new loop, every half hour, after a reconnect, and when a photo fails to load.
 * When the event's `slideshow_messages` is on, an approved guestbook message takes every fourth turn.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { AdminApi, CreatedJoinLink, MessageView, PhotoView } from "../shared/admin-api";
import { openLiveChannel, type LiveState } from "../shared/live-channel";
import { useApi } from "./context";
import { rememberLink, usableLink } from "./link-store";
import { Playlist, MAX_SLIDES, type Slide } from "./playlist";
import { QrImage } from "./ui";

const REFRESH_EVERY_MS = 30 * 60 * 1000;
const IDLE_AFTER_MS = 3000;
/** A photo that just arrived waits at most until the one on screen has been seen this long. */
const MIN_SHOW_MS = 2000;
const intervalChoices = [3, 5, 8, 12, 20];
/** Photos shown between two guestbook messages, and how many of the newest messages take turns. */
const PHOTOS_BETWEEN_MESSAGES = 3;
const MAX_MESSAGES = 100;

/** The approved, visible guestbook messages, newest first, when the event shows them; else none. */
async function slideshowMessages(api: AdminApi, eventId: string): Promise<MessageView[]> {
  const event = await api.getEvent(eventId);
  if (!event.slideshow_messages) return [];
  return (await api.listMessages(eventId, { status: "visible", approved: true }, null, MAX_MESSAGES)).items;
}
/** A video plays at most this long on the projector, then the show moves on. */
export const VIDEO_CAP_S = 30;

function slideOf(photo: PhotoView): Slide | null {
  if (photo.media_kind === "video") {
    // The guests' copy (no location): the projector is a public screen.
    const url = photo.urls.scrubbed ?? photo.urls.original;
    return url ? { photoId: photo.photo_id, url, video: { durationSeconds: photo.duration_s } } : null;
  }
  const url = photo.urls.thumb_1024;
  return url ? { photoId: photo.photo_id, url } : null;
}

/** Approved photos, processed or still shown from the guest's preview (whose original is on its way). */
const showableStatuses: PhotoView["status"][] = ["ready", "preview", "processing"];
const showable = (photo: PhotoView) => showableStatuses.includes(photo.status) && photo.approved;

/** The newest approved photos, newest first, up to the playlist's bound. */
async function approvedSlides(api: AdminApi, eventId: string): Promise<Slide[]> {
  const slides: Slide[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.listPhotos(eventId, { status: showableStatuses, approved: true }, cursor, 200);
    slides.push(...page.items.map(slideOf).filter((slide): slide is Slide => slide !== null));
    cursor = page.next_cursor;
  } while (cursor && slides.length < MAX_SLIDES);
  return slides;
}

/** A join link for the corner: the newest one made in this browser, or a new one made for the slideshow. */
async function slideshowLink(api: AdminApi, eventId: string): Promise<CreatedJoinLink> {
  const revoked = new Set((await api.listJoinLinks(eventId)).filter((link) => link.revoked_at).map((link) => link.id));
  const kept = usableLink(eventId, revoked);
  if (kept) return kept;
  const created = await api.createJoinLink(eventId, { label: "Slideshow" });
  rememberLink(eventId, created);
  return created;
}

function toggleFullscreen(): void {
  // Refused (say, by a kiosk policy): the show goes on in the window.
  void (document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen()).catch(() => {});
}

export function Slideshow({ eventId }: { eventId: string }) {
  const api = useApi();
  const slots = [useRef<HTMLImageElement>(null), useRef<HTMLImageElement>(null)];
  const videoSlot = useRef<HTMLVideoElement>(null);
  const [eventName, setEventName] = useState("");
  const [link, setLink] = useState<CreatedJoinLink | null>(null);
  const [empty, setEmpty] = useState(false);
  const [live, setLive] = useState<LiveState>("connecting");
  const [seconds, setSeconds] = useState(8);
  const [idle, setIdle] = useState(false);
  const [message, setMessage] = useState<MessageView | null>(null);
  const secondsRef = useRef(seconds);
  secondsRef.current = seconds;

  useEffect(() => {
    // Both are decoration: without them the photos still show.
    void api.getEvent(eventId).then(
      (event) => {
        setEventName(event.name);
        document.title = `Slideshow · ${event.name}`;
      },
      () => {},
    );
    void slideshowLink(api, eventId).then(setLink, () => setLink(null));
  }, [api, eventId]);

  // The show itself: the playlist, the live channel that feeds it, and the timer that advances it.
  useEffect(() => {
    const playlist = new Playlist();
    let front = 0;
    let shownId: string | null = null;
    let shownAt = 0;
    let refreshedAt = 0;
    let stopped = false;
    let turning = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let dueAt = Infinity;
    let messages: MessageView[] = [];
    let messagesShown = 0;
    let photosSinceMessage = 0;

    const schedule = (delay: number) => {
      clearTimeout(timer);
      dueAt = Date.now() + delay;
      timer = setTimeout(turn, delay);
    };

    const refresh = async () => {
      refreshedAt = Date.now();
      try {
        const [slides, words] = await Promise.all([approvedSlides(api, eventId), slideshowMessages(api, eventId)]);
        playlist.replaceAll(slides, shownId);
        messages = words;
      } catch {
        // Offline for now: keep showing what we have; the next turn tries again.
        refreshedAt = 0;
      }
    };

    /** The element on screen: one of the two images, or the video. */
    let onScreen: HTMLElement | null = null;
    const bringForward = (next: HTMLElement, slide: Slide) => {
      next.dataset.photoId = slide.photoId;
      next.classList.add("slide-front");
      if (onScreen && onScreen !== next) onScreen.classList.remove("slide-front");
      if (onScreen instanceof HTMLVideoElement && onScreen !== next) onScreen.pause();
      onScreen = next;
      shownId = slide.photoId;
      shownAt = Date.now();
    };

    /** Loads `slide` into the hidden image (or the video), then crossfades to it; answers how long it stays (ms). */
    const show = async (slide: Slide): Promise<number> => {
      if (slide.video) {
        const video = videoSlot.current!;
        video.src = slide.url;
        await video.play();
        bringForward(video, slide);
        const length = Number.isFinite(video.duration) ? video.duration : (slide.video.durationSeconds ?? VIDEO_CAP_S);
        return Math.min(length, VIDEO_CAP_S) * 1000;
      }
      const next = slots[1 - front]!.current!;
      next.src = slide.url;
      await next.decode();
      bringForward(next, slide);
      front = 1 - front;
      return secondsRef.current * 1000;
    };

    const turn = async () => {
      turning = true;
      dueAt = Infinity;
      if (Date.now() - refreshedAt > REFRESH_EVERY_MS) await refresh();
      if (messages.length > 0 && photosSinceMessage >= PHOTOS_BETWEEN_MESSAGES) {
        // A guest's words take this turn, over the photo on screen.
        photosSinceMessage = 0;
        setMessage(messages[messagesShown++ % messages.length]!);
        turning = false;
        if (!stopped) schedule(secondsRef.current * 1000);
        return;
      }
      setMessage(null);
      photosSinceMessage++;
      const step = playlist.next();
      if (step?.wrapped) await refresh();
      setEmpty(playlist.size === 0);
      let stay = secondsRef.current * 1000;
      if (step) {
        try {
          stay = await show(step.slide);
        } catch {
          // Expired URL or a photo gone meanwhile: read the list again before the next turn.
          await refresh();
        }
      }
      turning = false;
      if (!stopped) schedule(stay);
    };

    const closeChannel = openLiveChannel(api, eventId, {
      onState(state) {
        setLive(state);
        // Approvals may have happened while the channel was down.
        if (state === "open") void refresh();
      },
      onMessage(message) {
        if (message.type !== "photo") return;
        const slide = slideOf(message.photo);
        if (!showable(message.photo) || !slide) return playlist.remove(message.photo.photo_id);
        playlist.add(slide);
        setEmpty(false);
        // Something new: on screen as soon as the current photo has had its minimum time.
        const soon = Math.max(0, shownAt + MIN_SHOW_MS - Date.now());
        if (!turning && Date.now() + soon < dueAt) schedule(soon);
      },
    });
    void refresh().then(turn);

    return () => {
      stopped = true;
      clearTimeout(timer);
      closeChannel();
    };
  }, [api, eventId]);

  // Keep the projector's screen on; the lock is released whenever the page is hidden, so ask again.
  useEffect(() => {
    let lock: WakeLockSentinel | null = null;
    const request = () => {
      if (document.visibilityState === "visible") void navigator.wakeLock?.request("screen").then((sentinel) => (lock = sentinel), () => {});
    };
    request();
    document.addEventListener("visibilitychange", request);
    return () => {
      document.removeEventListener("visibilitychange", request);
      void lock?.release();
    };
  }, []);

  // Controls and cursor fade away when the mouse rests; they come back on any movement or key.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wake = () => {
      setIdle(false);
      clearTimeout(timer);
      timer = setTimeout(() => setIdle(true), IDLE_AFTER_MS);
    };
    wake();
    window.addEventListener("pointermove", wake);
    window.addEventListener("keydown", wake);
    return () => {
      clearTimeout(timer);
      window.removeEventListener("pointermove", wake);
      window.removeEventListener("keydown", wake);
    };
  }, []);

  return (
    <main class={`slideshow${idle ? " slideshow-idle" : ""}`} data-live={live} aria-label={`Slideshow of ${eventName || "the event"}`}>
      <img ref={slots[0]} class="slide" alt="" />
      <img ref={slots[1]} class="slide" alt="" />
      <video ref={videoSlot} class="slide" muted playsInline preload="auto" aria-hidden="true" />
      {message && (
        <figure class="slideshow-message" aria-live="polite">
          <blockquote class="breakable">{message.body}</blockquote>
          <figcaption class="breakable">— {message.display_name ?? "A guest"}</figcaption>
        </figure>
      )}
      {empty && !message && (
        <div class="slideshow-empty">
          <p class="slideshow-empty-title">{eventName}</p>
          <p>The first photos will appear here.</p>
        </div>
      )}
      {link && (
        <aside class={`slideshow-qr${empty ? " slideshow-qr-large" : ""}`} aria-label="Join">
          <QrImage svg={link.qr_svg} alt={`QR code: ${link.join_url}`} />
          <p>Scan to add your photos</p>
        </aside>
      )}
      {live !== "open" && (
        <p class="slideshow-connection" role="status">
          {live === "connecting" ? "Connecting…" : "Reconnecting…"}
        </p>
      )}
      <div class="slideshow-controls" role="group" aria-label="Slideshow controls">
        <label for="slideshow-seconds">Seconds per photo</label>
        <select id="slideshow-seconds" value={seconds} onChange={(change) => setSeconds(Number(change.currentTarget.value))}>
          {intervalChoices.map((choice) => (
            <option key={choice} value={choice}>
              {choice}
            </option>
          ))}
        </select>
        <button type="button" class="button button-small" onClick={toggleFullscreen}>
          Full screen
        </button>
      </div>
    </main>
  );
}
