ALTER TABLE "outbox_messages" ADD COLUMN "vendor_reference" text;--> statement-breakpoint
ALTER TABLE "erasures" ADD COLUMN "not_erased" text[] DEFAULT '{}'::text[] NOT NULL;