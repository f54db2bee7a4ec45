// Types of common.mjs, for the TypeScript benches (Node runs both as they are).
import type { DevStack, Service } from "../scripts/lib/dev-server.ts";

export const MiB: number;
export function positiveInt(name: string, fallback: number): number;
export function sha256(bytes: Uint8Array): string;
export function pool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]>;
export function wranglerVersion(): string;
export function runOnStack(prefix: string, main: (stack: DevStack) => Promise<void>): Promise<void>;

/** The counters of bench/counted/index.ts. */
export interface Operations {
  workerRequests: number;
  queueInvocations: number;
  durableObjectRequests: number;
  durableObjectAlarms: number;
  r2: Record<string, number>;
  d1: { queries: number; rowsRead: number; rowsWritten: number; rowsReadFromRowsReturned: number };
  durableObjectSql: { rowsRead: number; rowsWritten: number };
  queue: { sent: number; delivered: number };
  imagesTransformations: number;
}
export function startCountedService(stack: DevStack): Promise<Service>;
export function operations(service: Service, options?: { reset?: boolean }): Promise<Operations>;
export function photoJobs(service: Service, action: "hold" | "release"): Promise<{ held?: number; released?: number }>;
export function r2ByClass(r2: Record<string, number>): { A: number; B: number; free: number; byOperation: string };
export const PRICES: Record<string, number | string>;
export const COMMERCIAL_PER_1000_UPLOADS: number;
export function costPerThousandPhotos(ops: Operations, photos: number): { table: string; total: number };
export function call(times: number[] | null | undefined, what: string, url: string, init: RequestInit, expected: number): Promise<{ response: Response; body: Buffer }>;
export function putInit(bytes: Uint8Array, headers?: Record<string, string>): RequestInit;
export function guestUpload(
  uploadsUrl: string,
  file: { name: string; bytes: Uint8Array; sha256: string },
  chunkChoice: number | null,
  times?: { create: number[]; chunk: number[]; complete: number[] },
  deviceId?: string,
): Promise<{ key: string; id: string; chunkSize: number }>;
