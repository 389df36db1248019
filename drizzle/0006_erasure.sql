CREATE TABLE "erasures" (
	"workspace_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"status" text NOT NULL,
	"requested_at" timestamp with time zone NOT NULL,
	"completed_at" timestamp with time zone,
	"reason" text,
	"identifier_count" integer NOT NULL,
	"fingerprints" text[] DEFAULT '{}'::text[] NOT NULL,
	CONSTRAINT "erasures_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "suppressions" (
	"workspace_id" uuid NOT NULL,
	"fingerprint" text NOT NULL,
	"erasure_id" uuid NOT NULL,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "suppressions_workspace_id_fingerprint_pk" PRIMARY KEY("workspace_id","fingerprint")
);
--> statement-breakpoint
ALTER TABLE "workspaces" ADD COLUMN "erasure_secret" text;--> statement-breakpoint
CREATE INDEX "erasures_requested_idx" ON "erasures" USING btree ("workspace_id","requested_at");