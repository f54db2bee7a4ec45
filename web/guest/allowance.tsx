import { useEffect, useState } from "preact/hooks";
import type { DeviceAllowance, GuestApi } from "../engine/index.ts";
import { t } from "./i18n.ts";

/**
 * The device's photo allowance for the event (max_photos_per_guest), from the server, which
 * counts every session of this device. Asked again whenever `changed` does (a file started or
 * finished); null until known, or when the event sets none.
 */
export function useAllowance(api: GuestApi, deviceId: string, limited: boolean, changed: string): DeviceAllowance | null {
  const [allowance, setAllowance] = useState<DeviceAllowance | null>(null);
  useEffect(() => {
    if (!limited) return setAllowance(null);
    const asking = new AbortController();
    api.allowance(deviceId, asking.signal).then(setAllowance, () => undefined);
    return () => asking.abort();
  }, [api, deviceId, limited, changed]);
  return allowance?.max_photos_per_guest ? allowance : null;
}

/** "17 of 24 photos left", or that none are. */
export function AllowanceNote({ allowance }: { allowance: DeviceAllowance }) {
  const max = allowance.max_photos_per_guest!;
  const left = allowance.photos_left ?? 0;
  return left > 0 ? <p class="allowance">{t.photosLeft(left, max)}</p> : <p class="notice notice-warn">{t.noPhotosLeft(max)}</p>;
}
