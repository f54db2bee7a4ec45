/** The upload engine's public surface, for browsers and Node alike (node-store.ts and cli.ts are Node's own). */
export { UploadEngine, type EngineOptions, type Listener, type TryLock } from "./engine.ts";
export { ApiFailure, GuestApi, type ClaimedPhotos, type CreatedClaim, type DeviceAllowance, type ErrorInfo, type EventInfo, type GalleryPage, type PhotoReceipt } from "./api.ts";
export { MemoryStore, type SessionStore, type StoredFile, type StoredSession, type StoredState } from "./store.ts";
export { fileStates, isSettled, type EngineSnapshot, type FileState, type FileView, type Totals } from "./views.ts";
export { systemClock, type Clock } from "./clock.ts";
export type { PauseReason } from "./control.ts";
export type { RetryPolicy } from "./backoff.ts";
export { hasMediaExtension, mediaTypesByExtension } from "./files.ts";
export { canMakePhotoPreviews, makePhotoPreview, makeVideoPoster, previewSizes, type PreviewSize } from "./previews.ts";
