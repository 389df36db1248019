/**
 * Locks held by a session of the test's own, for tests that make a request wait: `lock` runs in
 * a transaction that stays open until the returned release is called (which then waits for the
 * transaction to end).
 */
import type postgres from 'postgres';

export async function holdLocks(
  client: postgres.Sql,
  lock: (tx: postgres.TransactionSql) => Promise<unknown>,
): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let held!: () => void;
  const isHeld = new Promise<void>((r) => (held = r));
  const done = client.begin(async (tx) => {
    await lock(tx);
    held();
    await released;
  });
  await Promise.race([isHeld, done]);
  return async () => {
    release();
    await done;
  };
}
