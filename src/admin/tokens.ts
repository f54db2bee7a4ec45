/** Admin API tokens: created (shown once) and revoked by a global admin; stored hashed. */
import { desc, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { adminTokens, type AdminTokenRow } from "../db/schema";
import { ApiError } from "../core/errors";
import { newId, randomSecret, sha256Hex } from "../lib/crypto";
import { isoOrNull } from "../lib/time";

export interface AdminTokenView {
  id: string;
  name: string;
  event_ids: string[] | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}


function view(row: AdminTokenRow): AdminTokenView {
  return {
    id: row.id,
    name: row.name,
    event_ids: row.eventIds,
    expires_at: isoOrNull(row.expiresAt),
    revoked_at: isoOrNull(row.revokedAt),
    last_used_at: isoOrNull(row.lastUsedAt),
    created_at: isoOrNull(row.createdAt)!,
  };
}

export async function createAdminToken(
  db: Database,
  options: { name: string; eventIds: string[] | null; expiresAt: number | null },
): Promise<AdminTokenView & { token: string }> {
  const token = `ept_${randomSecret()}`;
  const row: AdminTokenRow = {
    id: newId(),
    name: options.name,
    tokenHash: await sha256Hex(token),
    eventIds: options.eventIds,
    expiresAt: options.expiresAt,
    revokedAt: null,
    lastUsedAt: null,
    createdAt: Date.now(),
  };
  await db.insert(adminTokens).values(row);
  return { ...view(row), token };
}

export async function listAdminTokens(db: Database): Promise<AdminTokenView[]> {
  return (await db.select().from(adminTokens).orderBy(desc(adminTokens.createdAt))).map(view);
}

export async function revokeAdminToken(db: Database, id: string): Promise<AdminTokenView> {
  const row = await db.select().from(adminTokens).where(eq(adminTokens.id, id)).get();
  if (!row) throw new ApiError({ status: 404, code: "admin_token_not_found", message: "No such admin token." });
  if (row.revokedAt === null) {
    row.revokedAt = Date.now();
    await db.update(adminTokens).set({ revokedAt: row.revokedAt }).where(eq(adminTokens.id, id));
  }
  return view(row);
}
