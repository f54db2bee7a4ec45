/**
 * Metrics in Workers Analytics Engine, one data point per upload or processing event, for the
 * operator's dashboards and alerts (docs/operations.md has the SQL). The layout is fixed:
 *   index1  event id (the sampling key)
 *   blob1   what happened (MetricName)       blob2  event id
 *   blob3   code: error code, or how it ended blob4  route (requests only)
 *   double1 bytes                             double2 milliseconds
 * Never a secret, a key, a filename or a coordinate.
 */
export type MetricName =
  | "upload_created"
  | "upload_completed"
  | "upload_closed"
  | "photo_processed"
  | "photo_failed"
  | "request_error";

export interface MetricFields {
  eventId?: string | null | undefined;
  code?: string | undefined;
  route?: string | undefined;
  bytes?: number | undefined;
  ms?: number | undefined;
}

export function recordMetric(env: Pick<Env, "METRICS">, name: MetricName, fields: MetricFields): void {
  const eventId = fields.eventId ?? "";
  env.METRICS.writeDataPoint({
    indexes: [eventId],
    blobs: [name, eventId, fields.code ?? "", fields.route ?? ""],
    doubles: [fields.bytes ?? 0, fields.ms ?? 0],
  });
}
