import { useEffect, useRef, useState } from "preact/hooks";
import { mediaTypesByExtension } from "../engine/index.ts";
import { t } from "./i18n.ts";

/**
 * Picking photos: the phone's picker (many at once) or files dropped on the card. Files of
 * other types are passed on all the same, so each one says why it was not accepted.
 */
export function PhotoPicker({ allowedTypes, onPick }: { allowedTypes: string[]; onPick: (files: File[]) => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [dropping, setDropping] = useState(false);
  useDropsOutsideIgnored();

  const take = (files: FileList | null | undefined) => {
    if (files && files.length > 0) onPick([...files]);
  };

  return (
    <section
      class={`card picker${dropping ? " picker-dropping" : ""}`}
      aria-labelledby="picker-heading"
      onDragOver={(event) => {
        event.preventDefault();
        setDropping(true);
      }}
      onDragLeave={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDropping(false);
      }}
      onDrop={(event) => {
        event.preventDefault();
        setDropping(false);
        take(event.dataTransfer?.files);
      }}
    >
      <h2 id="picker-heading" tabIndex={-1}>
        {t.uploadTitle}
      </h2>
      <p class="muted">{dropping ? t.dropHere : t.dropHint}</p>
      <button type="button" class="button button-primary button-large" onClick={() => input.current?.click()}>
        {t.choosePhotos}
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        accept={acceptList(allowedTypes)}
        onChange={(event) => {
          take(event.currentTarget.files);
          // Picking the same files again must fire `change` again.
          event.currentTarget.value = "";
        }}
      />
      <p class="small muted">{t.keepOpenHint}</p>
    </section>
  );
}

/**
 * The input's `accept`: the event's types, plus their file extensions, since some phones hand
 * HEIC photos over without a type and would grey them out.
 */
function acceptList(allowedTypes: string[]): string {
  const extensions = Object.entries(mediaTypesByExtension)
    .filter(([, type]) => allowedTypes.includes(type))
    .map(([extension]) => `.${extension}`);
  return [...allowedTypes, ...extensions].join(",");
}

/** A file dropped beside the card would make the browser open it in place of this page, uploads and all. */
function useDropsOutsideIgnored(): void {
  useEffect(() => {
    const ignore = (event: DragEvent) => {
      if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
    };
    window.addEventListener("dragover", ignore);
    window.addEventListener("drop", ignore);
    return () => {
      window.removeEventListener("dragover", ignore);
      window.removeEventListener("drop", ignore);
    };
  }, []);
}
