CREATE TABLE "api_keys" (
	"workspace_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"scopes" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "workspaces" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"anon_id_label" text DEFAULT 'anon_id' NOT NULL,
	"mixpanel" jsonb,
	"braze" jsonb,
	"is_default" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "aliases" (
	"workspace_id" uuid NOT NULL,
	"alias_label" text NOT NULL,
	"alias_name" text NOT NULL,
	"profile_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "aliases_workspace_id_alias_label_alias_name_pk" PRIMARY KEY("workspace_id","alias_label","alias_name")
);
--> statement-breakpoint
CREATE TABLE "profiles" (
	"workspace_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"external_id" text,
	"email" text,
	"first_name" text,
	"last_name" text,
	"gender" text,
	"date_of_birth" text,
	"phone" text,
	"time_zone" text,
	"home_city" text,
	"country" text,
	"language" text,
	"custom_attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"session_count" integer DEFAULT 0 NOT NULL,
	"first_session_at" timestamp with time zone,
	"last_session_at" timestamp with time zone,
	"merged_into" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "profiles_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
CREATE TABLE "app_sessions" (
	"workspace_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"session_count" integer NOT NULL,
	"first_session_at" timestamp with time zone NOT NULL,
	"last_session_at" timestamp with time zone NOT NULL,
	"total_seconds" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "app_sessions_workspace_id_profile_id_app_id_pk" PRIMARY KEY("workspace_id","profile_id","app_id")
);
--> statement-breakpoint
CREATE TABLE "event_daily_counts" (
	"workspace_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"name" text NOT NULL,
	"day" date NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "event_daily_counts_workspace_id_profile_id_name_day_pk" PRIMARY KEY("workspace_id","profile_id","name","day")
);
--> statement-breakpoint
CREATE TABLE "event_summaries" (
	"workspace_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"name" text NOT NULL,
	"count" integer NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	"last_at" timestamp with time zone NOT NULL,
	CONSTRAINT "event_summaries_workspace_id_profile_id_name_pk" PRIMARY KEY("workspace_id","profile_id","name")
);
--> statement-breakpoint
CREATE TABLE "purchase_summaries" (
	"workspace_id" uuid NOT NULL,
	"profile_id" uuid NOT NULL,
	"count" integer NOT NULL,
	"total_cents" bigint NOT NULL,
	"first_at" timestamp with time zone NOT NULL,
	"last_at" timestamp with time zone NOT NULL,
	CONSTRAINT "purchase_summaries_workspace_id_profile_id_pk" PRIMARY KEY("workspace_id","profile_id")
);
--> statement-breakpoint
CREATE TABLE "push_tokens" (
	"workspace_id" uuid NOT NULL,
	"app_id" text NOT NULL,
	"token" text NOT NULL,
	"profile_id" uuid NOT NULL,
	"platform" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "push_tokens_workspace_id_app_id_token_pk" PRIMARY KEY("workspace_id","app_id","token")
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"workspace_id" uuid NOT NULL,
	"key" text NOT NULL,
	"operation" text NOT NULL,
	"request_hash" text NOT NULL,
	"result" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_workspace_id_key_pk" PRIMARY KEY("workspace_id","key")
);
--> statement-breakpoint
CREATE TABLE "merges" (
	"workspace_id" uuid NOT NULL,
	"id" uuid NOT NULL,
	"behavior" text NOT NULL,
	"survivor_id" uuid NOT NULL,
	"absorbed_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"identifier" jsonb NOT NULL,
	"changed_fields" text[] DEFAULT '{}'::text[] NOT NULL,
	"survivor_before" jsonb NOT NULL,
	"absorbed_before" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"undone_at" timestamp with time zone,
	CONSTRAINT "merges_workspace_id_id_pk" PRIMARY KEY("workspace_id","id")
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "aliases" ADD CONSTRAINT "aliases_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "profiles" ADD CONSTRAINT "profiles_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_hash_uq" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "workspaces_default_uq" ON "workspaces" USING btree ("is_default") WHERE "workspaces"."is_default";--> statement-breakpoint
CREATE INDEX "aliases_profile_idx" ON "aliases" USING btree ("workspace_id","profile_id");--> statement-breakpoint
CREATE UNIQUE INDEX "profiles_external_id_uq" ON "profiles" USING btree ("workspace_id","external_id") WHERE "profiles"."external_id" is not null;--> statement-breakpoint
CREATE INDEX "profiles_email_idx" ON "profiles" USING btree ("workspace_id","email") WHERE "profiles"."email" is not null and "profiles"."merged_into" is null;--> statement-breakpoint
CREATE INDEX "profiles_merged_into_idx" ON "profiles" USING btree ("workspace_id","merged_into") WHERE "profiles"."merged_into" is not null;--> statement-breakpoint
CREATE INDEX "push_tokens_profile_idx" ON "push_tokens" USING btree ("workspace_id","profile_id");--> statement-breakpoint
CREATE INDEX "merges_survivor_idx" ON "merges" USING btree ("workspace_id","survivor_id","created_at");--> statement-breakpoint
CREATE INDEX "merges_absorbed_idx" ON "merges" USING btree ("workspace_id","absorbed_id");