CREATE TABLE "outbox_messages" (
	"workspace_id" uuid NOT NULL,
	"id" bigint GENERATED ALWAYS AS IDENTITY (sequence name "outbox_messages_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"vendor" text NOT NULL,
	"type" text NOT NULL,
	"change_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"payload" jsonb NOT NULL,
	"dedupe_key" text NOT NULL,
	"status" text DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_until" timestamp with time zone,
	"claimed_by" text,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "outbox_messages_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "vendor_pauses" (
	"workspace_id" uuid NOT NULL,
	"vendor" text NOT NULL,
	"paused_until" timestamp with time zone NOT NULL,
	"reason" text,
	CONSTRAINT "vendor_pauses_workspace_id_vendor_pk" PRIMARY KEY("workspace_id","vendor")
);
--> statement-breakpoint
CREATE TABLE "rate_limits" (
	"key" text PRIMARY KEY NOT NULL,
	"points" integer NOT NULL,
	"expire" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "outbox_due_idx" ON "outbox_messages" USING btree ("next_attempt_at","id") WHERE "outbox_messages"."status" in ('PENDING', 'RETRYING');--> statement-breakpoint
CREATE INDEX "outbox_order_idx" ON "outbox_messages" USING btree ("workspace_id","vendor","profile_id","id") WHERE "outbox_messages"."status" in ('PENDING', 'RETRYING');--> statement-breakpoint
CREATE INDEX "outbox_change_idx" ON "outbox_messages" USING btree ("workspace_id","change_id");--> statement-breakpoint
CREATE INDEX "outbox_list_idx" ON "outbox_messages" USING btree ("workspace_id","id");