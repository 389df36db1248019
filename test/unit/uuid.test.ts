import { describe, expect, it } from 'vitest';

import { isUuid, uuidv7 } from '../../src/lib/uuid.js';

describe('uuidv7', () => {
  it('is a version 7, variant 1 UUID whose first 48 bits are the milliseconds', () => {
    for (const ms of [Date.UTC(2026, 11, 1), 0xfedcba987654, 1]) {
      const id = uuidv7(ms);
      expect(isUuid(id), id).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
    }
    // A time later than every one before, so it is taken as given.
    expect(uuidv7(0xfedcba987655).slice(0, 13)).toBe('fedcba98-7655');
  });

  it('increases within one millisecond and never repeats, across refills of its random pool', () => {
    const ms = 0xfedcba990000;
    const ids = Array.from({ length: 3000 }, () => uuidv7(ms));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The random tails differ too (3000 ids draw several 4 KiB pools).
    expect(new Set(ids.map((id) => id.slice(19))).size).toBe(ids.length);
  });

  it('keeps increasing when the clock goes back', () => {
    const later = uuidv7(0xfedcbb000000);
    const earlier = uuidv7(0xfedcbb000000 - 5000);
    expect(earlier > later).toBe(true);
  });
});
