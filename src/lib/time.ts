/** Epoch milliseconds as an ISO 8601 string for API responses, keeping null as null. */
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
