import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiFailure, type EventInfo, type GuestApi } from "../engine/index.ts";

export type EventLoad =
  | { kind: "loading" }
  | { kind: "ready"; info: EventInfo }
  /** The server's final word on the link: unknown, or revoked or expired. */
  | { kind: "not_found" }
  | { kind: "expired" }
  /** No usable answer (offline, server trouble): worth trying again. */
  | { kind: "unreachable" };

/**
 * The event behind the join link. Asked again when the connection comes back and when the
 * guest returns to the page, so a window that opened (or closed) meanwhile shows without a reload;
 * what was shown stays up while asking.
 */
export function useEventInfo(api: GuestApi): { load: EventLoad; reload: () => void } {
  const [load, setLoad] = useState<EventLoad>({ kind: "loading" });
  const asking = useRef(false);

  const reload = useCallback(() => {
    if (asking.current) return;
    asking.current = true;
    api
      .eventInfo()
      .then((info) => setLoad({ kind: "ready", info }))
      .catch((error: unknown) => {
        const outcome = failed(error);
        // A passing outage does not take down the event that is on screen; a revoked link does.
        setLoad((shown) => (shown.kind === "ready" && outcome.kind === "unreachable" ? shown : outcome));
      })
      .finally(() => (asking.current = false));
  }, [api]);

  useEffect(() => {
    reload();
    const onVisible = () => document.visibilityState === "visible" && reload();
    window.addEventListener("online", reload);
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      window.removeEventListener("online", reload);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [reload]);

  return { load, reload };
}

function failed(error: unknown): EventLoad {
  if (error instanceof ApiFailure && error.code === "event_not_found") return { kind: "not_found" };
  if (error instanceof ApiFailure && error.code === "join_link_expired") return { kind: "expired" };
  return { kind: "unreachable" };
}
