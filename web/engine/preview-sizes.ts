/** The preview presets (apart from the encoder, so the engine can choose one without the DOM). */

export interface PreviewSize {
  /** The longest side to start from, in pixels (smaller images are not enlarged). */
  longestSide: number;
  /** What a preview should weigh at most; the steps down stop at the first that fits. */
  targetBytes: number;
}

/** `normal` for a usual link; `slow` for a crowded or slow one, where every preview queues behind the others. */
export const previewSizes = {
  normal: { longestSide: 1024, targetBytes: 50_000 },
  slow: { longestSide: 640, targetBytes: 25_000 },
} as const satisfies Record<string, PreviewSize>;
