/**
 * A dispatcher in a process of its own, for tests with several processes: delivers from
 * DATABASE_URL until nothing has been due for IDLE_MS, then prints how many rows it finished.
 */
import { pino } from 'pino';

import { openDatabase } from '../../src/db/client.js';
import { DEFAULT_DISPATCHER_OPTIONS, Dispatcher } from '../../src/outbox/dispatcher.js';

const url = process.env['DATABASE_URL'];
if (!url) throw new Error('DATABASE_URL is required');
const idleMs = Number(process.env['IDLE_MS'] ?? 1500);
const database = await openDatabase({ url, dataDir: null, poolSize: 4 });
const dispatcher = new Dispatcher(database.db, pino({ level: 'silent' }), {
  ...DEFAULT_DISPATCHER_OPTIONS,
  batchSize: Number(process.env['BATCH_SIZE'] ?? 200),
  backoffBaseMs: 50,
});
let finished = 0;
let idleSince = Date.now();
while (Date.now() - idleSince < idleMs) {
  const n = await dispatcher.runOnce();
  finished += n;
  if (n > 0) idleSince = Date.now();
  else await new Promise((r) => setTimeout(r, 20));
}
await dispatcher.stop();
await database.close();
process.stdout.write(JSON.stringify({ finished }) + '\n');
