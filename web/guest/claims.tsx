/**
 * "My uploads on any phone". On the phone that uploaded, the guest makes a code (shown once, with
 * a link carrying it in the URL's fragment, which browsers never send to a server). On another
 * device, the code (typed, or from the link) opens that phone's photos to see and take back.
 * The code travels only in the Claim-Code header; this page keeps it for the tab (sessionStorage)
 * and takes it out of the address bar at once.
 */
import { useCallback, useEffect, useState } from "preact/hooks";
import { ApiFailure, type ClaimedPhotos, type CreatedClaim, type GuestApi, type UploadEngine } from "../engine/index.ts";
import { useAnnounce } from "./announcer.tsx";
import { formatDateTime, t } from "./i18n.ts";

/** "K7M2QX9D" → "K7M2-QX9D": easier to read out and type. */
const grouped = (code: string) => `${code.slice(0, 4)}-${code.slice(4)}`;
const storageKey = (joinToken: string) => `claim-code:${joinToken}`;

/** On the uploading phone: make a code for this device's uploads (once it has sent one). */
export function MakeClaim({ api, engine, joinToken }: { api: GuestApi; engine: UploadEngine; joinToken: string }) {
  const [claim, setClaim] = useState<CreatedClaim | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const proof = engine.claimProof();
  if (!proof) return null;

  const make = async () => {
    setBusy(true);
    setError(null);
    try {
      setClaim(await api.createClaim(proof));
    } catch (reason) {
      setError(t.claimFailed(reason instanceof Error ? reason.message : String(reason)));
    } finally {
      setBusy(false);
    }
  };
  const link = claim && `${location.origin}/join/${encodeURIComponent(joinToken)}#claim=${claim.code}`;

  return (
    <section class="card stack" aria-labelledby="claim-heading">
      <h2 id="claim-heading">{t.claimTitle}</h2>
      <p class="muted">{t.claimIntro}</p>
      {claim && link && (
        <div class="stack">
          <p>{t.claimCodeShown}</p>
          <p class="claim-code" aria-label={claim.code.split("").join(" ")}>
            {grouped(claim.code)}
          </p>
          <p class="small breakable">
            <a href={link}>{t.claimLinkShown}</a>
          </p>
          <p class="small muted">{t.claimReplaces}</p>
        </div>
      )}
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      <div>
        <button type="button" class="button" disabled={busy} onClick={make}>
          {busy ? t.claimMaking : t.claimMake}
        </button>
      </div>
    </section>
  );
}

/** The code a claim link brought (moved out of the address bar), or the one this tab used last. */
function initialCode(joinToken: string): string {
  const match = location.hash.match(/^#claim=([A-Za-z0-9-]{1,20})$/);
  if (match) {
    sessionStorage.setItem(storageKey(joinToken), match[1]!);
    history.replaceState(null, "", `${location.pathname}${location.search}#mine`);
  }
  return sessionStorage.getItem(storageKey(joinToken)) ?? "";
}

type Photo = ClaimedPhotos["photos"][number];

/** On another device: the photos of the phone whose code was given, each to take back. */
export function ClaimedUploads({ api, joinToken }: { api: GuestApi; joinToken: string }) {
  const [code, setCode] = useState(() => initialCode(joinToken));
  const [typed, setTyped] = useState("");
  const [photos, setPhotos] = useState<Photo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const announce = useAnnounce();

  const open = useCallback(
    async (tried: string) => {
      setBusy(true);
      setError(null);
      try {
        const page = await api.claimedPhotos(tried, null);
        sessionStorage.setItem(storageKey(joinToken), tried);
        setCode(tried);
        setPhotos(page.photos);
      } catch (reason) {
        sessionStorage.removeItem(storageKey(joinToken));
        setCode("");
        setPhotos(null);
        setError(claimError(reason));
      } finally {
        setBusy(false);
      }
    },
    [api, joinToken],
  );
  useEffect(() => {
    if (code) void open(code);
  }, []);

  const takeBack = async (photo: Photo) => {
    if (!confirm(t.takeBackConfirm)) return;
    try {
      await api.takeBackClaimedPhoto(code, photo.photo_id);
      setPhotos((shown) => shown?.filter((kept) => kept.photo_id !== photo.photo_id) ?? null);
      announce(t.announceTakenBack);
    } catch (reason) {
      setError(t.takeBackFailed(reason instanceof Error ? reason.message : String(reason)));
    }
  };
  const forget = () => {
    sessionStorage.removeItem(storageKey(joinToken));
    setCode("");
    setPhotos(null);
  };

  return (
    <section class="card stack" aria-labelledby="claimed-heading">
      <h2 id="claimed-heading" tabIndex={-1}>
        {t.claimedTitle}
      </h2>
      {error && (
        <p class="notice notice-error" role="alert">
          {error}
        </p>
      )}
      {photos === null ? (
        <form
          class="stack"
          onSubmit={(submitted) => {
            submitted.preventDefault();
            void open(typed.trim());
          }}
        >
          <p class="muted">{t.claimedIntro}</p>
          <div class="field">
            <label for="claim-code">{t.claimCodeLabel}</label>
            <input id="claim-code" autocomplete="off" autocapitalize="characters" spellcheck={false} maxLength={20} required value={typed} onInput={(input) => setTyped(input.currentTarget.value)} />
          </div>
          <div>
            <button type="submit" class="button button-primary" disabled={busy}>
              {t.claimOpen}
            </button>
          </div>
        </form>
      ) : (
        <>
          {photos.length === 0 ? (
            <p>{t.claimedEmpty}</p>
          ) : (
            <ul class="gallery-grid">
              {photos.map((photo) => (
                <ClaimedTile key={photo.photo_id} photo={photo} onTakeBack={() => takeBack(photo)} />
              ))}
            </ul>
          )}
          <div>
            <button type="button" class="button button-small" onClick={forget}>
              {t.claimOtherCode}
            </button>
          </div>
        </>
      )}
      <p class="small">
        <a href="#upload">{t.claimBackToUpload}</a>
      </p>
    </section>
  );
}

function ClaimedTile({ photo, onTakeBack }: { photo: Photo; onTakeBack: () => void }) {
  const when = photo.taken_at ?? photo.uploaded_at;
  const shownWhen = when ? formatDateTime(when) : null;
  const thumbnail = photo.urls?.thumb_256 ?? photo.urls?.thumb_1024 ?? photo.urls?.scrubbed;
  const state = { preview: t.claimPhotoProcessing, processing: t.claimPhotoProcessing, hidden: t.claimPhotoHidden, failed: t.claimPhotoFailed, ready: null }[photo.status];
  return (
    <li class="tile tile-own">
      {thumbnail ? (
        <img src={thumbnail} alt={shownWhen ? t.photoAlt(shownWhen) : t.photoFallbackAlt} width={256} height={256} loading="lazy" decoding="async" />
      ) : (
        <p class="tile-placeholder small breakable">{photo.filename}</p>
      )}
      {state && <span class="badge tile-badge">{state}</span>}
      <button type="button" class="button button-small" aria-label={shownWhen ? t.takeBackPhoto(shownWhen) : t.takeBackFile(photo.filename)} onClick={onTakeBack}>
        {t.takeBack}
      </button>
    </li>
  );
}

function claimError(reason: unknown): string {
  if (reason instanceof ApiFailure) {
    if (reason.code === "invalid_claim_code") return t.claimInvalid;
    if (reason.code === "claim_revoked") return t.claimRevoked;
    if (reason.code === "rate_limited") return t.claimLimited;
  }
  return t.unreachableBody;
}
