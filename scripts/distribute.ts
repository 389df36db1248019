/**
 * `npm run db:distribute`: on a database with the `citus` extension, makes the gateway's tables
 * reference or distributed tables (idempotent; `npm run db:migrate` and the gateway's start do
 * it too, after the migrations). Elsewhere it says so and changes nothing.
 */
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';

import { loadConfig } from '../src/config/config.js';
import { distributeIfCitus } from '../src/db/distribution.js';

const config = loadConfig(process.env);
if (!config.db.url) {
  console.log('the embedded database is never distributed: nothing to do');
} else {
  const client = postgres(config.db.url, { max: 1, onnotice: () => {} });
  try {
    const changed = await distributeIfCitus(drizzle(client));
    console.log(
      changed === null
        ? 'no citus extension on this database: nothing to distribute'
        : changed.length === 0
          ? 'every table is already distributed or a reference table'
          : `distributed: ${changed.join(', ')}`,
    );
  } finally {
    await client.end({ timeout: 5 });
  }
}
