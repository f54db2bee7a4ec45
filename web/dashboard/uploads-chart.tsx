/**
 * Uploads started over time (the stats' `uploads_over_time`), as bars (uPlot). uPlot is loaded
 * only when a chart is shown, so the other screens do not carry it. A sentence under the chart
 * says the same for screen readers.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type uPlot from "uplot";
import type { UploadTimeline } from "../shared/admin-api";
import { formatBytes, formatDateTime } from "../shared/format";

const HEIGHT = 220;
/** The chart spans at least this many buckets, so a few minutes of uploads do not make one wide bar. */
const MIN_BUCKETS = 12;

interface Series {
  /** Bucket starts, seconds since the epoch (uPlot's time unit), every bucket from the first to the last. */
  starts: number[];
  uploads: number[];
  bytes: number[];
  step: number;
}

/** The timeline with its empty buckets (which the API leaves out) put back as zeros. */
function series(timeline: UploadTimeline): Series {
  const step = timeline.bucket_seconds;
  const counted = new Map(timeline.buckets.map((bucket) => [Date.parse(bucket.start) / 1000, bucket]));
  const first = Math.min(...counted.keys());
  const last = Math.max(...counted.keys());
  const result: Series = { starts: [], uploads: [], bytes: [], step };
  for (let start = first; start <= last; start += step) {
    result.starts.push(start);
    result.uploads.push(counted.get(start)?.uploads ?? 0);
    result.bytes.push(counted.get(start)?.bytes ?? 0);
  }
  return result;
}

function summary(data: Series): string {
  const at = (seconds: number) => formatDateTime(new Date(seconds * 1000).toISOString());
  const total = data.uploads.reduce((sum, n) => sum + n, 0);
  const bytes = data.bytes.reduce((sum, n) => sum + n, 0);
  const busiest = data.uploads.indexOf(Math.max(...data.uploads));
  return (
    `${total} uploads (${formatBytes(bytes)}) started between ${at(data.starts[0]!)} and ${at(data.starts.at(-1)! + data.step)}. ` +
    `Busiest: ${data.uploads[busiest]} in the ${data.step === 60 ? "minute" : `${data.step / 60} minutes`} from ${at(data.starts[busiest]!)}.`
  );
}

export function UploadsChart({ timeline }: { timeline: UploadTimeline }) {
  const container = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  const data = timeline.buckets.length > 0 ? series(timeline) : null;

  useEffect(() => {
    const element = container.current;
    if (!element || !data) return;
    let chart: uPlot | null = null;
    let resize: ResizeObserver | null = null;
    let cancelled = false;
    void Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]).then(
      ([{ default: UPlot }]) => {
        if (cancelled) return;
        const colours = getComputedStyle(element);
        const first = data.starts[0]!;
        chart = new UPlot(
          {
            width: element.clientWidth,
            height: HEIGHT,
            series: [
              {},
              {
                label: "Uploads started",
                stroke: colours.getPropertyValue("--accent"),
                fill: colours.getPropertyValue("--accent-soft"),
                paths: UPlot.paths.bars!({ size: [0.8, 40] }),
                points: { show: false },
              },
            ],
            scales: {
              // Bars are centred on their bucket's start: half a bucket of room on either side.
              x: { time: true, range: () => [first - data.step / 2, first + (Math.max(data.starts.length, MIN_BUCKETS) - 0.5) * data.step] },
              y: { range: (_chart, _min, max) => [0, Math.max(1, max)] },
            },
            axes: [{}, { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }],
            legend: { live: false },
          },
          [data.starts, data.uploads],
          element,
        );
        resize = new ResizeObserver(() => chart?.setSize({ width: element.clientWidth, height: HEIGHT }));
        resize.observe(element);
      },
      () => setFailed(true),
    );
    return () => {
      cancelled = true;
      resize?.disconnect();
      chart?.destroy();
    };
    // Redraw only when the data changes, not on every render.
  }, [timeline]);

  if (!data) return <p class="muted">No uploads yet.</p>;
  return (
    <figure class="chart">
      <div ref={container} aria-hidden="true" />
      {failed && <p class="error-text">The chart could not be loaded.</p>}
      <figcaption class="muted small">{summary(data)}</figcaption>
    </figure>
  );
}
