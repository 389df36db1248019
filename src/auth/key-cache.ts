/**
 * Principals of recently seen API keys, so that a request need not wait on the database before
 * anything else can happen. An entry lives `ttlMs`: a key revoked in another process stops
 * working here within that time; a key revoked in this process is dropped at once.
 */
export class KeyCache<T extends { readonly keyId: string }> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: () => number = Date.now,
    private readonly capacity = 10_000,
  ) {}

  get(hash: string): T | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock()) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.value;
  }

  set(hash: string, value: T): void {
    if (this.ttlMs <= 0) return;
    // Map keeps insertion order: the oldest entry goes first when full.
    if (this.entries.size >= this.capacity) {
      this.entries.delete(this.entries.keys().next().value!);
    }
    this.entries.set(hash, { value, expiresAt: this.clock() + this.ttlMs });
  }

  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.entries) {
      if (entry.value.keyId === keyId) this.entries.delete(hash);
    }
  }
}
