import { useEffect, useRef, useState } from "preact/hooks";
import { useInView } from "./use-in-view.ts";

/**
 * A small preview of a picked photo. It exists only while its row is on (or near) the screen:
 * the object URL is made then and revoked when the row scrolls far away or goes, so a hundred
 * picked photos are not decoded at once. Formats the browser cannot show (HEIC in most) leave
 * the plain tile.
 */
export function Preview({ file }: { file: File | null }) {
  const tile = useRef<HTMLDivElement>(null);
  const inView = useInView(tile);
  const url = useObjectUrl(inView && file?.type.startsWith("image/") ? file : null);
  const [broken, setBroken] = useState(false);
  return (
    <div ref={tile} class="preview" aria-hidden="true">
      {url && !broken && <img src={url} alt="" decoding="async" onError={() => setBroken(true)} />}
    </div>
  );
}

function useObjectUrl(blob: Blob | null): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!blob) return setUrl(null);
    const created = URL.createObjectURL(blob);
    setUrl(created);
    return () => URL.revokeObjectURL(created);
  }, [blob]);
  return url;
}
