-- Each (workspace, vendor, profile) queue keeps one claimable head: the oldest waiting row.
-- Rows behind it are parked until it finishes.
UPDATE "outbox_messages" o SET "parked" = true
FROM (
  SELECT "workspace_id", "id",
         row_number() OVER (PARTITION BY "workspace_id", "vendor", "profile_id" ORDER BY "id") AS n
  FROM "outbox_messages"
  WHERE "status" in ('PENDING', 'RETRYING')
) q
WHERE o."workspace_id" = q."workspace_id" AND o."id" = q."id" AND q.n > 1;--> statement-breakpoint
-- A claim now moves next_attempt_at to the end of its lease; rows held under the old rule keep theirs.
UPDATE "outbox_messages" SET "next_attempt_at" = "claimed_until"
WHERE "status" in ('PENDING', 'RETRYING') AND "claimed_until" > "next_attempt_at";
