import { describe, expect, it } from 'vitest';

import { firstDayOfWindow, utcDay } from '../../src/identity/track-aggregate.js';

describe('utcDay', () => {
  it('is the UTC calendar day of a time, whichever day it was asked before', () => {
    const cases: [string, string][] = [
      ['2026-12-01T00:00:00.000Z', '2026-12-01'],
      ['2026-12-01T23:59:59.999Z', '2026-12-01'],
      ['2026-12-02T00:00:00.000Z', '2026-12-02'],
      ['2026-12-01T23:59:59.999Z', '2026-12-01'],
      ['2026-11-30T23:30:00.000-02:00', '2026-12-01'],
      ['1969-12-31T23:59:59.999Z', '1969-12-31'],
      ['1970-01-01T00:00:00.000Z', '1970-01-01'],
      ['2024-02-29T12:00:00.000Z', '2024-02-29'],
    ];
    for (const [time, day] of cases) expect(utcDay(new Date(time)), time).toBe(day);
    // Each case again in reverse order: nothing remembered from the one before leaks into it.
    for (const [time, day] of [...cases].reverse()) expect(utcDay(new Date(time)), time).toBe(day);
  });

  it('refuses an invalid date, as Date.prototype.toISOString does', () => {
    expect(() => utcDay(new Date(Number.NaN))).toThrow(RangeError);
  });

  it('starts the 30-day read window 29 days before today', () => {
    expect(firstDayOfWindow(new Date('2026-12-01T10:00:00Z'))).toBe('2026-11-02');
  });
});
