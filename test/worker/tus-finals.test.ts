/**
 * A tus partial is consumed by one final upload: two finals naming the same partial at once
 * both assemble it (idempotent), but only the first to reserve it makes a photo.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createEvent, fileBytes, tusFinal, tusPartial } from "./helpers";

describe("one partial, two finals", () => {
  it("two concurrent finals naming the same partial make one photo, and the other final leaves no session holding a slot", async () => {
    const { join_token, event_id } = await createEvent();
    const device = "parallel-phone-77";
    const { path: partial } = await tusPartial(join_token, device, fileBytes(3 * 1024 * 1024, 7));
    const answers = await Promise.all([tusFinal(join_token, device, [partial]), tusFinal(join_token, device, [partial])]);
    const statuses = answers.map((answer) => answer.status).sort();
    const photos = await env.DB.prepare("SELECT count(*) AS n FROM photos WHERE event_id = ?").bind(event_id).first<{ n: number }>();
    const inFlight = await env.DB.prepare("SELECT count(*) AS n FROM upload_sessions WHERE event_id = ? AND partial = 0 AND status IN ('pending', 'uploading', 'assembling')")
      .bind(event_id)
      .first<{ n: number }>();
    expect({ statuses, photos: photos!.n, inFlight: inFlight!.n }).toMatchObject({ photos: 1, inFlight: 0 });
    expect(statuses[0]).toBe(201);
    expect(statuses[1]).toBe(409);
    const loser = answers.find((answer) => answer.status === 409)!;
    expect(((await loser.json()) as { error: { code: string } }).error.code).toBe("upload_completed");
  });
});
