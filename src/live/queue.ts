/**
 * What a subscription has received and not yet sent, as an async iterable with a bound: a
 * consumer that falls `limit` items behind (a client that stops reading, so its socket's sends
 * stop completing) is ended with `overflow()`'s error rather than buffered without end.
 */
export class BoundedQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private failing: ((error: Error) => void) | null = null;
  private ended: { error: Error | null } | null = null;

  constructor(
    private readonly limit: number,
    private readonly overflow: () => Error,
  ) {}

  push(item: T): void {
    if (this.ended) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = this.failing = null;
      resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.limit) {
      this.end(this.overflow());
      return;
    }
    this.items.push(item);
  }

  /** Ends the iteration: with an error it is thrown to the consumer once the items before it are taken. */
  end(error: Error | null = null): void {
    if (this.ended) return;
    this.ended = { error };
    if (this.waiting) {
      const [resolve, reject] = [this.waiting, this.failing!];
      this.waiting = this.failing = null;
      if (error) reject(error);
      else resolve({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.ended) {
          return this.ended.error
            ? Promise.reject(this.ended.error)
            : Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          this.waiting = resolve;
          this.failing = reject;
        });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
