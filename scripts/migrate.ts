/** `npm run db:migrate`: applies drizzle/ to the configured database and exits. */
import { loadConfig } from '../src/config/config.js';
import { openDatabase } from '../src/db/client.js';
import { runMigrations } from '../src/db/migrate.js';

const config = loadConfig(process.env);
const database = await openDatabase({
  url: config.db.url,
  dataDir: config.db.dataDir,
  sharedBuffersKb: config.db.sharedBuffersKb,
});
try {
  await runMigrations(database, config.db.url);
  console.log(`migrations applied to ${database.location}`);
} finally {
  await database.close();
}
