/**
 * Consecutive items while their entries fit one request (`max`), in order; items without
 * entries are left out. An item larger than `max` goes alone (translators refuse such rows first,
 * or let the vendor's refusal fail them): a row always travels whole.
 */
export function batchBySize<T>(items: readonly T[], size: (item: T) => number, max: number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let total = 0;
  for (const item of items) {
    const count = size(item);
    if (count === 0) continue;
    if (current.length > 0 && total + count > max) {
      batches.push(current);
      current = [];
      total = 0;
    }
    current.push(item);
    total += count;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
