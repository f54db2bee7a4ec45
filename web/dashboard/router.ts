/**
 * Hash routes (#/events/{id}/gallery): they work wherever the dashboard is hosted — under
 * /admin/ next to the guest app, whose single-page fallback would otherwise answer deep links,
 * or at the root of its own Pages site — with no server rewrite rules.
 */
import { useEffect, useMemo, useState } from "preact/hooks";

export const eventTabs = ["overview", "gallery", "messages", "live", "links", "webhooks", "settings"] as const;
export type EventTab = (typeof eventTabs)[number];

export type Route =
  | { name: "events" }
  | { name: "webhooks" }
  | { name: "event"; eventId: string; tab: EventTab }
  | { name: "slideshow"; eventId: string }
  | { name: "not-found" };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: "events" };
  if (parts.length === 1 && parts[0] === "webhooks") return { name: "webhooks" };
  const [section, eventId, tab, ...rest] = parts;
  if (section !== "events" || !eventId || rest.length > 0) return { name: "not-found" };
  if (tab === "slideshow") return { name: "slideshow", eventId };
  if (tab === undefined) return { name: "event", eventId, tab: "overview" };
  return (eventTabs as readonly string[]).includes(tab) ? { name: "event", eventId, tab: tab as EventTab } : { name: "not-found" };
}

export function eventHref(eventId: string, tab: EventTab | "slideshow" = "overview"): string {
  return `#/events/${encodeURIComponent(eventId)}${tab === "overview" ? "" : `/${tab}`}`;
}

/** The global webhooks (every event's), for global admins. */
export const globalWebhooksHref = "#/webhooks";

export function useRoute(): Route {
  const [hash, setHash] = useState(() => location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    window.addEventListener("hashchange", update);
    // The hash may have changed between the first render and this effect (a link followed, or a
    // URL opened, just as the dashboard appeared after sign-in): that hashchange was missed.
    update();
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return useMemo(() => parseRoute(hash), [hash]);
}
