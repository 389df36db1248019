DROP INDEX "outbox_order_idx";--> statement-breakpoint
DROP INDEX "outbox_list_idx";--> statement-breakpoint
DROP INDEX "outbox_due_idx";--> statement-breakpoint
ALTER TABLE "outbox_messages" ADD COLUMN "parked" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "outbox_parked_idx" ON "outbox_messages" USING btree ("workspace_id","vendor","profile_id","id") WHERE "outbox_messages"."status" in ('PENDING', 'RETRYING') and "outbox_messages"."parked";--> statement-breakpoint
CREATE INDEX "outbox_finished_idx" ON "outbox_messages" USING btree ("workspace_id","status","updated_at") WHERE "outbox_messages"."status" in ('DELIVERED', 'SKIPPED', 'DEAD');--> statement-breakpoint
CREATE INDEX "outbox_due_idx" ON "outbox_messages" USING btree ("workspace_id","vendor","next_attempt_at","id") WHERE "outbox_messages"."status" in ('PENDING', 'RETRYING') and not "outbox_messages"."parked";