/**
 * The read floor: the smallest Apollo Server 5 service that answers the benchmark's
 * `profile(by: { externalId })` query, written by hand. One statement per request reads the
 * profile with its aliases, event summaries and purchase summary (the children as JSON, as the
 * gateway reads them), prepared on PostgreSQL (postgres.js) and sent with parameters on PGlite;
 * plain graphql-js types, no keys, limits, logs or metrics. It is what any Apollo service that
 * reads the database once per request reaches on this machine, so `profile(by:)` is measured
 * against it as well as against `{ hello }`. Prints `{"url": ...}` once it listens.
 *
 * Env: DATABASE_URL (PostgreSQL) or DATA_DIR (the gateway's PGlite folder, while the gateway is
 * stopped), WORKSPACE_ID, PORT (0 by default).
 */
import path from 'node:path';

import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import postgres from 'postgres';

const env = process.env;
const ws = env['WORKSPACE_ID']!;

const typeDefs = `
  input ProfileLookup { externalId: String }
  type UserAlias { aliasName: String! aliasLabel: String! }
  type EventSummary { name: String! count: Int! firstAt: String! lastAt: String! }
  type PurchaseSummary { count: Int! totalCents: Float! }
  type Profile {
    id: ID! externalId: String aliases: [UserAlias!]! events: [EventSummary!]!
    purchases: PurchaseSummary
  }
  type Query { profile(by: ProfileLookup!): Profile }
`;

interface Row {
  id: string;
  externalId: string | null;
  aliases: unknown;
  events: unknown;
  purchases: unknown;
}

const SQL = `select p.id, p.external_id as "externalId",
  (select coalesce(json_agg(json_build_object('aliasName', a.alias_name,
     'aliasLabel', a.alias_label) order by a.alias_label, a.alias_name), '[]')
   from aliases a where a.workspace_id = p.workspace_id and a.profile_id = p.id) as aliases,
  (select coalesce(json_agg(json_build_object('name', e.name, 'count', e.count,
     'firstAt', e.first_at, 'lastAt', e.last_at) order by e.name), '[]')
   from event_summaries e where e.workspace_id = p.workspace_id and e.profile_id = p.id) as events,
  (select json_build_object('count', s.count, 'totalCents', s.total_cents)
   from purchase_summaries s where s.workspace_id = p.workspace_id and s.profile_id = p.id)
   as purchases
from profiles p where p.workspace_id = $1 and p.external_id = $2`;

interface Reader {
  read(externalId: string): Promise<Row | undefined>;
  close(): Promise<void>;
}

async function reader(): Promise<Reader> {
  if (env['DATABASE_URL']) {
    const db = postgres(env['DATABASE_URL'], { max: 10, onnotice: () => {} });
    return {
      read: async (externalId) =>
        (await db.unsafe<Row[]>(SQL, [ws, externalId], { prepare: true }))[0],
      close: () => db.end({ timeout: 5 }),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const pg = await PGlite.create({ dataDir: path.join(env['DATA_DIR']!, 'pgdata') });
  // PGlite hands json columns over as text when it cannot tell their type.
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
  return {
    read: async (externalId) => {
      const row = (await pg.query<Row>(SQL, [ws, externalId])).rows[0];
      return (
        row && {
          ...row,
          aliases: json(row.aliases),
          events: json(row.events),
          purchases: json(row.purchases),
        }
      );
    },
    close: () => pg.close(),
  };
}

const db = await reader();
const server = new ApolloServer({
  typeDefs,
  resolvers: {
    Query: {
      profile: async (_: unknown, args: { by: { externalId: string } }) =>
        (await db.read(args.by.externalId)) ?? null,
    },
  },
});
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: Number(env['PORT'] ?? 0) },
});
// Stopped with SIGTERM by the benchmark: the embedded database is closed, its folder left whole.
process.once('SIGTERM', () => {
  void server
    .stop()
    .then(() => db.close())
    .finally(() => process.exit(0));
});
process.stdout.write(JSON.stringify({ url }) + '\n');
