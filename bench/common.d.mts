// Types of common.mjs, for the TypeScript benches (Node runs both as they are).
import type { DevStack } from "../scripts/lib/dev-server.ts";

export const MiB: number;
export function positiveInt(name: string, fallback: number): number;
export function sha256(bytes: Uint8Array): string;
export function pool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]>;
export function wranglerVersion(): string;
export function runOnStack(prefix: string, main: (stack: DevStack) => Promise<void>): Promise<void>;
