/**
 * The gateway process: reads the environment, opens and migrates the database, serves HTTP, and
 * shuts down in order on SIGTERM or SIGINT.
 */
import 'reflect-metadata';

import { pino } from 'pino';

import { ConfigError, loadConfig, type Config } from './config/config.js';
import { openDatabase } from './db/client.js';
import { DataDirLockedError } from './db/data-dir-lock.js';
import { runMigrations } from './db/migrate.js';
import { startGateway } from './gateway.js';
import { createLogger, safeError } from './log.js';

let config: Config;
try {
  // eslint-disable-next-line no-process-env -- the composition root hands the environment to config
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`identity-gateway: ${error.message}\n`);
  process.exit(2);
}

// Log lines are written asynchronously, off the request path, and gathered: they go out when
// 4 KiB are waiting or a second has passed, so that under load a dozen request lines cost one
// write instead of one write each. Whatever is left is flushed before exit.
const logDestination = pino.destination({
  dest: 1,
  sync: false,
  minLength: 4096,
  periodicFlush: 1000,
});
const logger = createLogger(config.log.level, logDestination);
process.on('exit', () => logDestination.flushSync());
let database;
try {
  database = await openDatabase({
    url: config.db.url,
    dataDir: config.db.dataDir,
    sharedBuffersKb: config.db.sharedBuffersKb,
    poolSize: config.db.poolSize,
    readPoolSize: config.db.readPoolSize,
    timeouts: config.db.timeouts,
  });
} catch (error) {
  if (!(error instanceof DataDirLockedError)) throw error;
  process.stderr.write(`identity-gateway: ${error.message}\n`);
  process.exit(3);
}
await runMigrations(database, config.db.url);
const gateway = await startGateway(config, database, logger);

logger.info(
  { url: gateway.server.url, database: database.driver, location: database.location },
  'identity-gateway listening',
);
// Whoever started the process waits for this line (it tells the port): it goes out at once.
logDestination.flush();
if (gateway.bootstrap.createdKey) {
  // Shown once, on the terminal only: the key is stored as a hash and cannot be read back.
  process.stdout.write(
    `\nCreated workspace "${gateway.bootstrap.workspace.name}" and its admin API key (shown once):\n\n` +
      `    ${gateway.bootstrap.createdKey}\n\n` +
      `Send it as "Authorization: Bearer <key>" to ${gateway.server.url}\n\n`,
  );
}

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  gateway
    .stop()
    .then(() => database.close())
    .then(() => process.exit(0))
    .catch((error: unknown) => {
      logger.error({ err: safeError(error) }, 'shutdown failed');
      process.exit(1);
    });
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
