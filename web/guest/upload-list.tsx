import { useEffect, useRef, useState } from "preact/hooks";
import type { EventInfo } from "../engine/index.ts";
import { FileRow } from "./file-row.tsx";
import { t } from "./i18n.ts";
import { OverallProgress } from "./overall-progress.tsx";
import type { UploadSummary } from "./summary.ts";
import type { EngineView } from "./use-upload-engine.ts";

/** Everything picked on this device for this event, with the overall progress on top. */
export function UploadList({ view, limits, summary }: { view: EngineView; limits: EventInfo["limits"]; summary: UploadSummary }) {
  const { engine, snapshot } = view;
  const heading = useRef<HTMLHeadingElement>(null);
  useRenderEverySecond(snapshot.files.some((file) => file.state === "retrying"));
  const now = Date.now();

  if (snapshot.files.length === 0) return null;
  return (
    <section class="card" aria-labelledby="uploads-heading">
      <h2 id="uploads-heading" ref={heading} tabIndex={-1}>
        {t.yourUploads}
      </h2>
      <OverallProgress summary={summary} engine={engine} />
      <ul class="file-list">
        {snapshot.files.map((file) => (
          <FileRow key={file.id} file={file} pausedBy={snapshot.pausedBy} engine={engine} limits={limits} now={now} onTakenBack={() => heading.current?.focus()} />
        ))}
      </ul>
    </section>
  );
}

/** Renders again every second while `active`, so retry countdowns count down. */
function useRenderEverySecond(active: boolean): void {
  const [, setTicks] = useState(0);
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setTicks((ticks) => ticks + 1), 1000);
    return () => clearInterval(timer);
  }, [active]);
}
