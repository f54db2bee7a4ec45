import { useEffect, useState } from "preact/hooks";
import { t } from "./i18n.ts";

/** `mine`: another phone's uploads, opened with its claim code (`#claim=CODE` from a claim link, then `#mine`). */
export type Section = "upload" | "photos" | "mine";

/** Which part of the page is shown, from the URL's hash, so the back button goes back to it. */
export function useSection(galleryOn: boolean): Section {
  const read = (): Section =>
    location.hash === "#mine" || location.hash.startsWith("#claim=") ? "mine" : galleryOn && location.hash === "#photos" ? "photos" : "upload";
  const [section, setSection] = useState(read);
  useEffect(() => {
    const onHashChange = () => setSection(read());
    onHashChange();
    window.addEventListener("hashchange", onHashChange);
    return () => window.removeEventListener("hashchange", onHashChange);
  }, [galleryOn]);
  return section;
}

/** Upload or the event's photos: two links, the current one marked. */
export function SectionNav({ current }: { current: Section }) {
  const link = (section: Section, label: string) => (
    <a href={`#${section}`} class="section-link" aria-current={current === section ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <nav class="section-nav" aria-label={t.navLabel}>
      {link("upload", t.navUpload)}
      {link("photos", t.navGallery)}
    </nav>
  );
}
