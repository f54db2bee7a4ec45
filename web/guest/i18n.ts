/**
 * Every word the guest app shows, in English and German, and the formatting of numbers, sizes
 * and dates for the chosen language. The language is the first of the browser's preferred ones
 * that the catalogue has (navigator.languages), else English. Texts that take values are
 * functions, so each language builds its own sentence (word order, plurals).
 */

export interface Messages {
  appTitle: string;
  loadingEvent: string;

  noLinkTitle: string;
  noLinkBody: string;
  notFoundTitle: string;
  notFoundBody: string;
  expiredTitle: string;
  expiredBody: string;
  archivedTitle: string;
  archivedBody: string;
  unreachableTitle: string;
  unreachableBody: string;
  tryAgain: string;

  statusOpen: string;
  statusClosed: string;
  closedBody: string;
  opensAt: (when: string) => string;
  closedAt: (when: string) => string;
  closesAt: (when: string) => string;
  limits: (maxSize: string, types: string) => string;
  videoLimits: (maxSize: string, minutes: string) => string;
  dailyLimit: (count: number) => string;
  typeList: (types: string[]) => string;

  navLabel: string;
  navUpload: string;
  navGallery: string;

  uploadTitle: string;
  choosePhotos: string;
  dropHint: string;
  dropHere: string;
  keepOpenHint: string;
  addFailed: (reason: string) => string;

  yourUploads: string;
  filesProgress: (arrived: number, total: number) => string;
  bytesProgress: (sent: string, total: string) => string;
  refusedCount: (count: number) => string;
  failedCount: (count: number) => string;
  pausedOffline: string;
  pausedByYou: string;
  pauseUploads: string;
  resumeUploads: string;
  allArrived: string;

  stateWaiting: string;
  stateHashing: string;
  stateUploading: (percent: number) => string;
  statePaused: string;
  statePausedByYou: string;
  stateRetrying: (seconds: number) => string;
  stateProcessing: string;
  stateDone: string;
  stateDuplicate: string;
  stateRefused: (reason: string) => string;
  stateFailed: (reason: string) => string;
  stateCancelled: string;

  reasonTooLarge: (maxSize: string) => string;
  reasonWrongType: string;
  reasonDailyLimit: (count: number) => string;
  reasonClosed: string;
  reasonLinkInvalid: string;
  reasonEmpty: string;
  reasonUnreadable: string;

  cancelShort: string;
  cancel: (name: string) => string;
  retryShort: string;
  retry: (name: string) => string;
  takeBack: string;
  takeBackFile: (name: string) => string;
  takeBackPhoto: (when: string) => string;
  takeBackConfirm: string;
  takeBackFailed: (reason: string) => string;

  galleryTitle: string;
  galleryIntro: string;
  galleryEmpty: string;
  galleryOff: string;
  galleryMore: string;
  galleryLoading: string;
  galleryError: string;
  galleryYours: string;
  photoAlt: (when: string) => string;
  photoFallbackAlt: string;
  videoAlt: (when: string) => string;
  videoFallbackAlt: string;

  detailsSummary: string;
  deviceIdLabel: string;
  deviceIdHint: string;

  announceAdded: (count: number) => string;
  announceProgress: (arrived: number, total: number) => string;
  announcePaused: string;
  announceResumed: string;
  announcePausedByYou: string;
  announceResumedByYou: string;
  announceAllArrived: (count: number) => string;
  announceTakenBack: string;

  nameLabel: string;
  nameHint: string;
  guestbookTitle: string;
  messageLabel: string;
  messageHint: (left: number) => string;
  messageSend: string;
  messageSending: string;
  messageSent: string;
  messageSentForReview: string;
  messageRefused: (why: string) => string;
  messageFailed: string;
  revealSoon: (left: string, when: string) => string;
  revealOwnOnly: string;
  revealOpening: string;
  countdown: (hours: number, minutes: number, seconds: number) => string;
  photosLeft: (left: number, max: number) => string;
  noPhotosLeft: (max: number) => string;
  reasonPhotoLimit: (max: number) => string;

  claimTitle: string;
  claimIntro: string;
  claimMake: string;
  claimMaking: string;
  claimCodeShown: string;
  claimLinkShown: string;
  claimReplaces: string;
  claimFailed: (reason: string) => string;
  claimOpenLink: string;
  claimedTitle: string;
  claimedIntro: string;
  claimCodeLabel: string;
  claimOpen: string;
  claimedEmpty: string;
  claimInvalid: string;
  claimRevoked: string;
  claimLimited: string;
  claimOtherCode: string;
  claimBackToUpload: string;
  claimPhotoProcessing: string;
  claimPhotoHidden: string;
  claimPhotoFailed: string;
}

const en: Messages = {
  appTitle: "Share your photos",
  loadingEvent: "Opening the event…",

  noLinkTitle: "Scan the event's QR code",
  noLinkBody: "This page needs the link from the event's QR code or invitation.",
  notFoundTitle: "This link does not lead to an event",
  notFoundBody: "Check that the whole link was copied, or scan the event's QR code again.",
  expiredTitle: "This link is no longer valid",
  expiredBody: "It has expired or was withdrawn. Ask the organisers for a new one.",
  archivedTitle: "This event has been archived",
  archivedBody: "It takes no more photos, and its photos are no longer shown here.",
  unreachableTitle: "Cannot reach the event right now",
  unreachableBody: "Check your connection. The page tries again by itself when you are back online.",
  tryAgain: "Try again",

  statusOpen: "Open for photos",
  statusClosed: "Uploads closed",
  closedBody: "This event is not taking photos at the moment.",
  opensAt: (when) => `Uploads open ${when}.`,
  closedAt: (when) => `Uploads closed ${when}.`,
  closesAt: (when) => `Uploads close ${when}.`,
  limits: (maxSize, types) => `Photos up to ${maxSize} each, as ${types}.`,
  videoLimits: (maxSize, minutes) => `Videos up to ${maxSize} and ${minutes} min each.`,
  dailyLimit: (count) => `Up to ${count} photos a day from this phone.`,
  typeList: (types) => new Intl.ListFormat("en", { type: "disjunction" }).format(types),

  navLabel: "Sections",
  navUpload: "Upload",
  navGallery: "Photos",

  uploadTitle: "Add your photos",
  choosePhotos: "Choose photos",
  dropHint: "Pick as many as you like, or drop them here.",
  dropHere: "Drop your photos here",
  keepOpenHint: "Keep this page open while your photos upload. If the connection drops, they carry on by themselves.",
  addFailed: (reason) => `Your photos are being sent, but this phone could not keep them for after a reload; it may be short of space (${reason}). Keep this page open until they have arrived.`,

  yourUploads: "Your uploads",
  filesProgress: (arrived, total) => `${arrived} of ${total} ${total === 1 ? "photo" : "photos"}`,
  bytesProgress: (sent, total) => `${sent} of ${total}`,
  refusedCount: (count) => `${count} not accepted`,
  failedCount: (count) => `${count} failed`,
  pausedOffline: "Paused: you are offline. Uploads carry on by themselves when the connection is back.",
  pausedByYou: "Paused. Your uploads wait until you resume them.",
  pauseUploads: "Pause uploads",
  resumeUploads: "Resume uploads",
  allArrived: "All your photos have arrived. Thank you!",

  stateWaiting: "Waiting",
  stateHashing: "Getting ready",
  stateUploading: (percent) => `Uploading ${percent}%`,
  statePaused: "Paused (offline)",
  statePausedByYou: "Paused",
  stateRetrying: (seconds) => (seconds > 0 ? `Connection trouble, retrying in ${seconds} s` : "Retrying"),
  stateProcessing: "Processing",
  stateDone: "Done",
  stateDuplicate: "Done (already sent)",
  stateRefused: (reason) => `Not accepted: ${reason}`,
  stateFailed: (reason) => `Failed: ${reason}`,
  stateCancelled: "Cancelled",

  reasonTooLarge: (maxSize) => `too large (the limit is ${maxSize})`,
  reasonWrongType: "wrong type (only photos can be uploaded)",
  reasonDailyLimit: (count) => `daily limit reached (${count} photos a day)`,
  reasonClosed: "the event is not taking photos",
  reasonLinkInvalid: "the event link is no longer valid",
  reasonEmpty: "the file is empty",
  reasonUnreadable: "the file can no longer be read; pick it again",

  cancelShort: "Cancel",
  cancel: (name) => `Cancel ${name}`,
  retryShort: "Retry",
  retry: (name) => `Retry ${name}`,
  takeBack: "Take back",
  takeBackFile: (name) => `Take back ${name}`,
  takeBackPhoto: (when) => `Take back your photo from ${when}`,
  takeBackConfirm: "Take back this photo? It is deleted for everyone.",
  takeBackFailed: (reason) => `Could not take the photo back: ${reason}`,

  galleryTitle: "Photos of the event",
  galleryIntro: "Everyone's photos. Yours are marked, and you can take them back.",
  galleryEmpty: "No photos yet. Yours appear here once they are processed.",
  galleryOff: "The organisers are not showing the photos at the moment.",
  galleryMore: "Show more photos",
  galleryLoading: "Loading photos…",
  galleryError: "The photos could not be loaded.",
  galleryYours: "Yours",
  photoAlt: (when) => `Photo from ${when}`,
  photoFallbackAlt: "Photo",
  videoAlt: (when) => `Video from ${when}`,
  videoFallbackAlt: "Video",

  detailsSummary: "Details for the organisers",
  deviceIdLabel: "Device id",
  deviceIdHint: "If something went wrong, tell the organisers this id: it finds your uploads.",

  announceAdded: (count) => `${count} ${count === 1 ? "photo" : "photos"} added.`,
  announceProgress: (arrived, total) => `${arrived} of ${total} photos uploaded.`,
  announcePaused: "You are offline. Uploads are paused.",
  announceResumed: "Back online. Uploads carry on.",
  announcePausedByYou: "Uploads paused.",
  announceResumedByYou: "Uploads resumed.",
  announceAllArrived: (count) => `All ${count} photos have arrived.`,
  announceTakenBack: "The photo was taken back.",

  nameLabel: "Your name (optional)",
  nameHint: "The organisers see it with your photos and messages. This phone remembers it.",
  guestbookTitle: "Guestbook",
  messageLabel: "Leave a message for the hosts",
  messageHint: (left) => `${left} characters left.`,
  messageSend: "Send message",
  messageSending: "Sending…",
  messageSent: "Thank you! Your message was sent.",
  messageSentForReview: "Thank you! Your message was sent; the hosts will look at it first.",
  messageRefused: (why) => `Your message was not sent: ${why}`,
  messageFailed: "Your message could not be sent. Check the connection and try again.",
  revealSoon: (left, when) => `Everyone's photos are revealed in ${left} (${when}).`,
  revealOwnOnly: "Until then you see only your own, under Upload.",
  revealOpening: "Revealing the photos…",
  countdown: (hours, minutes, seconds) => (hours > 0 ? `${hours} h ${String(minutes).padStart(2, "0")} min` : `${minutes} min ${String(seconds).padStart(2, "0")} s`),
  photosLeft: (left, max) => `${left} of ${max} photos left`,
  noPhotosLeft: (max) => `You have used all ${max} of your photos for this event.`,
  reasonPhotoLimit: (max) => `no photos left (${max} per guest)`,

  claimTitle: "Your uploads on another device",
  claimIntro: "Make a code to see and take back the photos you sent from this phone on another phone or computer.",
  claimMake: "Make a code",
  claimMaking: "Making a code…",
  claimCodeShown: "Your code, shown only now. Write it down or keep the link:",
  claimLinkShown: "Link for the other device",
  claimReplaces: "A new code stops this one working.",
  claimFailed: (reason) => `Could not make a code: ${reason}`,
  claimOpenLink: "Open uploads from another phone with a code",
  claimedTitle: "Uploads from your other phone",
  claimedIntro: "Enter the code you made on the phone you uploaded from.",
  claimCodeLabel: "Code (8 characters)",
  claimOpen: "Open",
  claimedEmpty: "No photos from that phone yet.",
  claimInvalid: "That code does not work for this event. Check it and try again.",
  claimRevoked: "This code no longer works: it was withdrawn or replaced by a newer one.",
  claimLimited: "Too many wrong codes. Try again in 15 minutes.",
  claimOtherCode: "Use another code",
  claimBackToUpload: "Back to uploading from this device",
  claimPhotoProcessing: "Processing",
  claimPhotoHidden: "Hidden by the organisers",
  claimPhotoFailed: "Could not be processed",
};

const de: Messages = {
  appTitle: "Teile deine Fotos",
  loadingEvent: "Veranstaltung wird geöffnet…",

  noLinkTitle: "Scanne den QR-Code der Veranstaltung",
  noLinkBody: "Diese Seite braucht den Link aus dem QR-Code oder der Einladung.",
  notFoundTitle: "Dieser Link führt zu keiner Veranstaltung",
  notFoundBody: "Prüfe, ob der ganze Link kopiert wurde, oder scanne den QR-Code noch einmal.",
  expiredTitle: "Dieser Link gilt nicht mehr",
  expiredBody: "Er ist abgelaufen oder wurde zurückgezogen. Frag die Veranstalter nach einem neuen.",
  archivedTitle: "Diese Veranstaltung ist archiviert",
  archivedBody: "Sie nimmt keine Fotos mehr an, und ihre Fotos werden hier nicht mehr gezeigt.",
  unreachableTitle: "Die Veranstaltung ist gerade nicht erreichbar",
  unreachableBody: "Prüfe deine Verbindung. Die Seite versucht es von selbst wieder, sobald du online bist.",
  tryAgain: "Noch einmal versuchen",

  statusOpen: "Offen für Fotos",
  statusClosed: "Uploads geschlossen",
  closedBody: "Diese Veranstaltung nimmt gerade keine Fotos an.",
  opensAt: (when) => `Uploads öffnen am ${when}.`,
  closedAt: (when) => `Uploads wurden am ${when} geschlossen.`,
  closesAt: (when) => `Uploads schließen am ${when}.`,
  limits: (maxSize, types) => `Fotos bis ${maxSize} pro Datei, als ${types}.`,
  videoLimits: (maxSize, minutes) => `Videos bis ${maxSize} und ${minutes} Min. pro Datei.`,
  dailyLimit: (count) => `Bis zu ${count} Fotos am Tag von diesem Telefon.`,
  typeList: (types) => new Intl.ListFormat("de", { type: "disjunction" }).format(types),

  navLabel: "Bereiche",
  navUpload: "Hochladen",
  navGallery: "Fotos",

  uploadTitle: "Füge deine Fotos hinzu",
  choosePhotos: "Fotos auswählen",
  dropHint: "Wähle so viele, wie du magst, oder zieh sie hierher.",
  dropHere: "Fotos hier ablegen",
  keepOpenHint: "Lass diese Seite offen, während deine Fotos hochgeladen werden. Bricht die Verbindung ab, geht es von selbst weiter.",
  addFailed: (reason) => `Deine Fotos werden gesendet, aber dieses Telefon konnte sie nicht für ein Neuladen behalten; vielleicht ist sein Speicher voll (${reason}). Lass diese Seite offen, bis sie angekommen sind.`,

  yourUploads: "Deine Uploads",
  filesProgress: (arrived, total) => `${arrived} von ${total} ${total === 1 ? "Foto" : "Fotos"}`,
  bytesProgress: (sent, total) => `${sent} von ${total}`,
  refusedCount: (count) => `${count} nicht angenommen`,
  failedCount: (count) => `${count} fehlgeschlagen`,
  pausedOffline: "Pausiert: Du bist offline. Die Uploads gehen von selbst weiter, sobald die Verbindung zurück ist.",
  pausedByYou: "Pausiert. Deine Uploads warten, bis du sie fortsetzt.",
  pauseUploads: "Uploads pausieren",
  resumeUploads: "Uploads fortsetzen",
  allArrived: "Alle deine Fotos sind angekommen. Danke!",

  stateWaiting: "Wartet",
  stateHashing: "Wird vorbereitet",
  stateUploading: (percent) => `Wird hochgeladen: ${percent} %`,
  statePaused: "Pausiert (offline)",
  statePausedByYou: "Pausiert",
  stateRetrying: (seconds) => (seconds > 0 ? `Verbindungsproblem, neuer Versuch in ${seconds} s` : "Neuer Versuch"),
  stateProcessing: "Wird verarbeitet",
  stateDone: "Fertig",
  stateDuplicate: "Fertig (schon gesendet)",
  stateRefused: (reason) => `Nicht angenommen: ${reason}`,
  stateFailed: (reason) => `Fehlgeschlagen: ${reason}`,
  stateCancelled: "Abgebrochen",

  reasonTooLarge: (maxSize) => `zu groß (höchstens ${maxSize})`,
  reasonWrongType: "falscher Dateityp (nur Fotos)",
  reasonDailyLimit: (count) => `Tageslimit erreicht (${count} Fotos am Tag)`,
  reasonClosed: "die Veranstaltung nimmt keine Fotos an",
  reasonLinkInvalid: "der Link der Veranstaltung gilt nicht mehr",
  reasonEmpty: "die Datei ist leer",
  reasonUnreadable: "die Datei ist nicht mehr lesbar; wähle sie noch einmal aus",

  cancelShort: "Abbrechen",
  cancel: (name) => `${name} abbrechen`,
  retryShort: "Wiederholen",
  retry: (name) => `${name} wiederholen`,
  takeBack: "Zurücknehmen",
  takeBackFile: (name) => `${name} zurücknehmen`,
  takeBackPhoto: (when) => `Dein Foto vom ${when} zurücknehmen`,
  takeBackConfirm: "Dieses Foto zurücknehmen? Es wird für alle gelöscht.",
  takeBackFailed: (reason) => `Das Foto konnte nicht zurückgenommen werden: ${reason}`,

  galleryTitle: "Fotos der Veranstaltung",
  galleryIntro: "Die Fotos aller Gäste. Deine sind markiert, und du kannst sie zurücknehmen.",
  galleryEmpty: "Noch keine Fotos. Deine erscheinen hier, sobald sie verarbeitet sind.",
  galleryOff: "Die Veranstalter zeigen die Fotos gerade nicht.",
  galleryMore: "Mehr Fotos zeigen",
  galleryLoading: "Fotos werden geladen…",
  galleryError: "Die Fotos konnten nicht geladen werden.",
  galleryYours: "Deins",
  photoAlt: (when) => `Foto vom ${when}`,
  photoFallbackAlt: "Foto",
  videoAlt: (when) => `Video vom ${when}`,
  videoFallbackAlt: "Video",

  detailsSummary: "Angaben für die Veranstalter",
  deviceIdLabel: "Geräte-ID",
  deviceIdHint: "Wenn etwas schiefging, nenne den Veranstaltern diese ID: Damit finden sie deine Uploads.",

  announceAdded: (count) => `${count} ${count === 1 ? "Foto" : "Fotos"} hinzugefügt.`,
  announceProgress: (arrived, total) => `${arrived} von ${total} Fotos hochgeladen.`,
  announcePaused: "Du bist offline. Die Uploads sind pausiert.",
  announceResumed: "Wieder online. Die Uploads gehen weiter.",
  announcePausedByYou: "Uploads pausiert.",
  announceResumedByYou: "Uploads fortgesetzt.",
  announceAllArrived: (count) => `Alle ${count} Fotos sind angekommen.`,
  announceTakenBack: "Das Foto wurde zurückgenommen.",

  nameLabel: "Dein Name (freiwillig)",
  nameHint: "Die Veranstalter sehen ihn bei deinen Fotos und Nachrichten. Dieses Handy merkt ihn sich.",
  guestbookTitle: "Gästebuch",
  messageLabel: "Hinterlasse eine Nachricht für die Gastgeber",
  messageHint: (left) => `Noch ${left} Zeichen.`,
  messageSend: "Nachricht senden",
  messageSending: "Wird gesendet…",
  messageSent: "Danke! Deine Nachricht wurde gesendet.",
  messageSentForReview: "Danke! Deine Nachricht wurde gesendet; die Gastgeber sehen sie sich zuerst an.",
  messageRefused: (why) => `Deine Nachricht wurde nicht gesendet: ${why}`,
  messageFailed: "Deine Nachricht konnte nicht gesendet werden. Prüfe die Verbindung und versuche es noch einmal.",
  revealSoon: (left, when) => `Die Fotos aller Gäste werden in ${left} enthüllt (${when}).`,
  revealOwnOnly: "Bis dahin siehst du nur deine eigenen, unter Hochladen.",
  revealOpening: "Die Fotos werden enthüllt…",
  countdown: (hours, minutes, seconds) => (hours > 0 ? `${hours} Std. ${String(minutes).padStart(2, "0")} Min.` : `${minutes} Min. ${String(seconds).padStart(2, "0")} Sek.`),
  photosLeft: (left, max) => `Noch ${left} von ${max} Fotos`,
  noPhotosLeft: (max) => `Du hast alle ${max} Fotos für diese Veranstaltung verbraucht.`,
  reasonPhotoLimit: (max) => `keine Fotos mehr übrig (${max} pro Gast)`,

  claimTitle: "Deine Uploads auf einem anderen Gerät",
  claimIntro: "Erstelle einen Code, um die von diesem Handy gesendeten Fotos auf einem anderen Gerät zu sehen und zurückzunehmen.",
  claimMake: "Code erstellen",
  claimMaking: "Code wird erstellt…",
  claimCodeShown: "Dein Code, nur jetzt sichtbar. Schreib ihn auf oder behalte den Link:",
  claimLinkShown: "Link für das andere Gerät",
  claimReplaces: "Ein neuer Code macht diesen ungültig.",
  claimFailed: (reason) => `Der Code konnte nicht erstellt werden: ${reason}`,
  claimOpenLink: "Uploads von einem anderen Handy mit Code öffnen",
  claimedTitle: "Uploads von deinem anderen Handy",
  claimedIntro: "Gib den Code ein, den du auf dem Handy erstellt hast, von dem du hochgeladen hast.",
  claimCodeLabel: "Code (8 Zeichen)",
  claimOpen: "Öffnen",
  claimedEmpty: "Noch keine Fotos von diesem Handy.",
  claimInvalid: "Dieser Code gilt nicht für diese Veranstaltung. Prüfe ihn und versuche es erneut.",
  claimRevoked: "Dieser Code gilt nicht mehr: Er wurde zurückgezogen oder durch einen neueren ersetzt.",
  claimLimited: "Zu viele falsche Codes. Versuche es in 15 Minuten erneut.",
  claimOtherCode: "Anderen Code verwenden",
  claimBackToUpload: "Zurück zum Hochladen von diesem Gerät",
  claimPhotoProcessing: "Wird verarbeitet",
  claimPhotoHidden: "Von den Veranstaltern ausgeblendet",
  claimPhotoFailed: "Konnte nicht verarbeitet werden",
};

const catalogue: Record<string, Messages> = { en, de };

/** The first of the browser's languages the catalogue has ("de-AT" counts as "de"), else English. */
function pickLanguage(preferred: readonly string[]): string {
  for (const tag of preferred) {
    const language = tag.toLowerCase().split("-")[0]!;
    if (language in catalogue) return language;
  }
  return "en";
}

export const language = pickLanguage(typeof navigator === "undefined" ? [] : navigator.languages);
export const t: Messages = catalogue[language]!;

const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;

/** 212_000_000 → "212 MB" (in German "1,5 MB", with its comma): decimal units, as phones show sizes. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  const fractionDigits = unit === 0 || value >= 100 ? 0 : 1;
  // "11 bytes": the short form of bytes is "11 byte" in English.
  const unitDisplay = unit === 0 ? "long" : "short";
  return new Intl.NumberFormat(language, { style: "unit", unit: units[unit], unitDisplay, maximumFractionDigits: fractionDigits }).format(value);
}

const dateTime = new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" });

export function formatDateTime(iso: string): string {
  return dateTime.format(new Date(iso));
}

const typeNames: Record<string, string> = {
  "image/jpeg": "JPEG",
  "image/png": "PNG",
  "image/webp": "WebP",
  "image/heic": "HEIC",
  "image/heif": "HEIF",
  "video/mp4": "MP4",
  "video/quicktime": "MOV",
};

/** "image/jpeg" → "JPEG": the names people know the formats by. */
export function typeName(contentType: string): string {
  return typeNames[contentType] ?? contentType.replace(/^image\//, "").toUpperCase();
}
