import { t } from "./i18n.ts";

/** The id this device uploads under, out of the way: organisers find a guest's uploads by it. */
export function DeviceDetails({ deviceId }: { deviceId: string }) {
  return (
    <details class="device-details small">
      <summary>{t.detailsSummary}</summary>
      <p class="muted">{t.deviceIdHint}</p>
      <p>
        {t.deviceIdLabel}: <code class="breakable">{deviceId}</code>
      </p>
    </details>
  );
}
