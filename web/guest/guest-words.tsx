/**
 * The guest's own words: the name they send with their photos (optional, remembered on this
 * device for every event, changeable any time) and a guestbook message for the organisers.
 */
import { useState } from "preact/hooks";
import { ApiFailure, type GuestApi } from "../engine/index.ts";
import { t } from "./i18n.ts";

/** The server's caps (core/words.ts); it normalises and checks again. */
export const MAX_NAME_LENGTH = 60;
const MAX_MESSAGE_LENGTH = 1000;
const nameKey = "edge-photo-uploads:display-name";

/** The name this device remembers ("" when none; storage may be unavailable, e.g. private modes). */
export function rememberedName(): string {
  try {
    return localStorage.getItem(nameKey) ?? "";
  } catch {
    return "";
  }
}

function rememberName(name: string): void {
  try {
    if (name.trim()) localStorage.setItem(nameKey, name.trim());
    else localStorage.removeItem(nameKey);
  } catch {
    // Not remembered: it is still used for this visit.
  }
}

/** The name field: saved as the guest types, so photos picked next carry it. */
export function NameField({ name, onChange }: { name: string; onChange: (name: string) => void }) {
  return (
    <div class="card field name-field">
      <label for="guest-name">{t.nameLabel}</label>
      <input
        id="guest-name"
        autocomplete="name"
        maxLength={MAX_NAME_LENGTH}
        value={name}
        onInput={(input) => {
          const value = input.currentTarget.value;
          rememberName(value);
          onChange(value);
        }}
      />
      <span class="field-hint">{t.nameHint}</span>
    </div>
  );
}

type Sent = { kind: "idle" } | { kind: "sending" } | { kind: "sent"; approved: boolean } | { kind: "failed"; message: string };

/** A guestbook message, with or without photos; refusals (quota, closed event) say why. */
export function GuestbookForm({ api, deviceId, name }: { api: GuestApi; deviceId: string; name: string }) {
  const [text, setText] = useState("");
  const [sent, setSent] = useState<Sent>({ kind: "idle" });
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!text.trim() || sent.kind === "sending") return;
    setSent({ kind: "sending" });
    try {
      const created = await api.postMessage({ device_id: deviceId, message: text, ...(name.trim() ? { display_name: name.trim() } : {}) });
      setText("");
      setSent({ kind: "sent", approved: created.approved });
    } catch (error) {
      setSent({ kind: "failed", message: error instanceof ApiFailure ? t.messageRefused(error.message) : t.messageFailed });
    }
  };
  return (
    <form class="card stack guestbook" aria-labelledby="guestbook-heading" onSubmit={submit}>
      <h2 id="guestbook-heading">{t.guestbookTitle}</h2>
      <div class="field">
        <label for="guestbook-message">{t.messageLabel}</label>
        <textarea
          id="guestbook-message"
          rows={4}
          maxLength={MAX_MESSAGE_LENGTH}
          value={text}
          onInput={(input) => {
            setText(input.currentTarget.value);
            if (sent.kind !== "sending") setSent({ kind: "idle" });
          }}
        />
        <span class="field-hint">{t.messageHint(MAX_MESSAGE_LENGTH - text.length)}</span>
      </div>
      <div>
        <button type="submit" class="button button-primary" disabled={!text.trim() || sent.kind === "sending"}>
          {sent.kind === "sending" ? t.messageSending : t.messageSend}
        </button>
      </div>
      <p aria-live="polite" class={sent.kind === "failed" ? "notice notice-error" : sent.kind === "sent" ? "notice" : ""}>
        {sent.kind === "sent" ? (sent.approved ? t.messageSent : t.messageSentForReview) : sent.kind === "failed" ? sent.message : ""}
      </p>
    </form>
  );
}
