import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { GuestApi, systemClock, type EventInfo } from "../engine/index.ts";
import { AllowanceNote, useAllowance } from "./allowance.tsx";
import { ClaimedUploads, MakeClaim } from "./claims.tsx";
import { RevealCountdown } from "./reveal-countdown.tsx";
import { AnnouncerProvider, useAnnounce, useProgressAnnouncements } from "./announcer.tsx";
import { DeviceDetails } from "./device-details.tsx";
import { EventHeader } from "./event-header.tsx";
import { GuestbookForm, NameField, rememberedName } from "./guest-words.tsx";
import { Gallery } from "./gallery.tsx";
import { t } from "./i18n.ts";
import { rememberJoinToken } from "./join-token.ts";
import { PhotoPicker } from "./photo-picker.tsx";
import { SectionNav, useSection } from "./section-nav.tsx";
import { summarize, type UploadSummary } from "./summary.ts";
import { Unavailable } from "./unavailable.tsx";
import { UploadList } from "./upload-list.tsx";
import { useEventInfo } from "./use-event-info.ts";
import { useUploadEngine, type EngineView } from "./use-upload-engine.ts";
import { useWakeLock } from "./use-wake-lock.ts";

/** More files at once than this does not make a phone on venue Wi-Fi any faster. */
const MAX_PARALLEL_UPLOADS = 3;

export function App({ joinToken }: { joinToken: string | null }) {
  return <AnnouncerProvider>{joinToken ? <JoinedEvent joinToken={joinToken} /> : <Unavailable title={t.noLinkTitle} body={t.noLinkBody} />}</AnnouncerProvider>;
}

/** The event behind the join link, or why there is none to show. */
function JoinedEvent({ joinToken }: { joinToken: string }) {
  // `fetch` is wrapped: called as the API's method, the bare function throws "Illegal invocation".
  const api = useMemo(
    () => new GuestApi({ origin: location.origin, joinToken, fetch: (input, init) => fetch(input, init), clock: systemClock, requestTimeoutMs: 30_000 }),
    [joinToken],
  );
  const { load, reload } = useEventInfo(api);
  const ready = load.kind === "ready" ? load.info : null;

  useEffect(() => {
    if (!ready) return;
    document.title = `${ready.name} · ${t.appTitle}`;
    // The installed app reopens this event (join-token.ts); an archived one has nothing to reopen for.
    if (ready.status !== "archived") rememberJoinToken(joinToken);
  }, [ready?.name, ready?.status, joinToken]);

  switch (load.kind) {
    case "loading":
      return (
        <main class="page guest">
          <p class="muted">{t.loadingEvent}</p>
        </main>
      );
    case "not_found":
      return <Unavailable title={t.notFoundTitle} body={t.notFoundBody} />;
    case "expired":
      return <Unavailable title={t.expiredTitle} body={t.expiredBody} />;
    case "unreachable":
      return <Unavailable title={t.unreachableTitle} body={t.unreachableBody} action={{ label: t.tryAgain, run: reload }} />;
    case "ready":
      if (load.info.status === "archived") return <Unavailable title={t.archivedTitle} body={t.archivedBody} />;
      return <EventPage info={load.info} api={api} joinToken={joinToken} reload={reload} />;
  }
}

function EventPage({ info, api, joinToken, reload }: { info: EventInfo; api: GuestApi; joinToken: string; reload: () => void }) {
  const [name, setName] = useState(rememberedName);
  const view = useUploadEngine(joinToken, Math.min(MAX_PARALLEL_UPLOADS, info.limits.max_concurrent_uploads_per_device), name);
  const summary = view && summarize(view.snapshot);
  const section = useSection(info.gallery_enabled);
  const sectionBox = useFocusHeadingOnChange(section);

  const photos = () =>
    // Reveal later: a countdown until the server opens the gallery.
    !info.gallery_open && info.gallery_opens_at ? (
      <RevealCountdown opensAt={info.gallery_opens_at} recheck={reload} />
    ) : (
      <Gallery api={api} engine={view!.engine} ownPhotos={ownPhotos(view!)} />
    );
  return (
    <main class="page guest">
      <EventHeader info={info} />
      {info.gallery_enabled && <SectionNav current={section} />}
      <div ref={sectionBox} class="stack">
        {section === "mine" && <ClaimedUploads api={api} joinToken={joinToken} />}
        {view &&
          summary &&
          (section === "photos" ? photos() : section === "upload" && <UploadSection info={info} api={api} view={view} summary={summary} name={name} onName={setName} joinToken={joinToken} />)}
      </div>
      {summary && <UploadEffects summary={summary} />}
      {view && <DeviceDetails deviceId={view.engine.deviceId} />}
    </main>
  );
}

interface UploadSectionProps {
  info: EventInfo;
  api: GuestApi;
  view: EngineView;
  summary: UploadSummary;
  name: string;
  onName: (name: string) => void;
  joinToken: string;
}

function UploadSection({ info, api, view, summary, name, onName, joinToken }: UploadSectionProps) {
  const announce = useAnnounce();
  // Asked again as files get sessions or finish: the server counts this device's photos.
  const allowance = useAllowance(api, view.engine.deviceId, info.limits.max_photos_per_guest !== null, view.snapshot.files.map((file) => file.state).join());
  const photosLeft = allowance === null || (allowance.photos_left ?? 0) > 0;
  const [addError, setAddError] = useState<string | null>(null);
  const add = async (files: File[]) => {
    setAddError(null);
    try {
      const added = await view.engine.add(files);
      announce(t.announceAdded(added.length));
    } catch (error) {
      // The device's storage refusing the photos (full, or private browsing) is the likely cause.
      setAddError(t.addFailed(error instanceof Error ? error.message : String(error)));
    }
  };
  return (
    <>
      {info.status === "open" && <NameField name={name} onChange={onName} />}
      {info.accepting_uploads && allowance && <AllowanceNote allowance={allowance} />}
      {info.accepting_uploads && photosLeft && <PhotoPicker allowedTypes={info.limits.allowed_content_types} onPick={add} />}
      {addError && (
        <p class="notice notice-error" role="alert">
          {addError}
        </p>
      )}
      <UploadList view={view} limits={info.limits} summary={summary} />
      {info.status === "open" && <GuestbookForm api={api} deviceId={view.engine.deviceId} name={name} />}
      <MakeClaim api={api} engine={view.engine} joinToken={joinToken} />
      <p class="small">
        <a href="#mine">{t.claimOpenLink}</a>
      </p>
    </>
  );
}

/** What goes on while files upload whichever section is shown: the live region's news, and the screen kept awake. */
function UploadEffects({ summary }: { summary: UploadSummary }) {
  useProgressAnnouncements(summary);
  // Also while paused offline: a sleeping phone would not notice the connection coming back.
  // Not while the guest paused: nothing happens until they come back and tap.
  useWakeLock(summary.pending > 0 && summary.pausedBy !== "user");
  return null;
}

/** Photo id → file id of the photos this device uploaded itself (not those it skipped as already sent). */
function ownPhotos({ snapshot }: EngineView): Map<string, string> {
  const own = new Map<string, string>();
  for (const file of snapshot.files) {
    if (file.photoId && !file.duplicateOf && (file.state === "processing" || file.state === "done")) own.set(file.photoId, file.id);
  }
  return own;
}

/** Moves focus to the first heading of the box when `key` changes (not on the first render), as a page change would. */
function useFocusHeadingOnChange(key: string) {
  const box = useRef<HTMLDivElement>(null);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    box.current?.querySelector<HTMLElement>("h2")?.focus();
  }, [key]);
  return box;
}
