/**
 * Named prepared statements for drizzle on postgres.js. drizzle sends every statement it was not
 * given a name for as an unnamed one, and postgres.js sends an unnamed statement that has
 * parameters in two round trips (it asks the server for the parameter types first). Prepared,
 * a statement is parsed once per connection and then costs one round trip, so every repeated
 * statement is prepared here, on the connections drizzle uses, transactions included.
 *
 * postgres.js keeps a connection's prepared statements for the connection's life, so the number
 * of distinct statements prepared is capped: a statement is prepared from its second use on, and
 * once `capacity` texts have been prepared the rest go unnamed as before.
 */
import type postgres from 'postgres';

export class PreparePolicy {
  private readonly seen = new Set<string>();
  private readonly prepared = new Set<string>();

  constructor(private readonly capacity = 500) {}

  shouldPrepare(text: string): boolean {
    if (this.prepared.has(text)) return true;
    if (this.prepared.size >= this.capacity) return false;
    if (!this.seen.has(text)) {
      // Texts seen once are forgotten in bulk rather than kept without bound.
      if (this.seen.size >= this.capacity * 20) this.seen.clear();
      this.seen.add(text);
      return false;
    }
    this.prepared.add(text);
    return true;
  }
}

type UnsafeOptions = { prepare?: boolean } & Record<string, unknown>;

/** The same client, whose `unsafe` (and that of its transactions) prepares by `policy`. */
export function preparing(sql: postgres.Sql, policy: PreparePolicy): postgres.Sql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property === 'unsafe') {
        return (query: string, params?: unknown[], options: UnsafeOptions = {}) =>
          target.unsafe(query, params as never, {
            ...options,
            prepare: options.prepare === true || policy.shouldPrepare(query),
          });
      }
      if (property === 'begin' || property === 'savepoint') {
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: postgres.Sql) => unknown;
          const method = Reflect.get(target, property, receiver) as (
            ...a: unknown[]
          ) => Promise<unknown>;
          return method.call(target, ...args, (tx: postgres.Sql) => fn(preparing(tx, policy)));
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value.bind(target) as unknown) : value;
    },
  });
}
