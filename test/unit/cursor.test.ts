import { describe, expect, it } from 'vitest';

import { decodeCursor, encodeCursor } from '../../src/lib/cursor.js';
import { isUuid, uuidv7 } from '../../src/lib/uuid.js';

describe('cursors', () => {
  it('round-trip their key values and look opaque', () => {
    const cursor = encodeCursor(['anon_id', 'x y']);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, 2)).toEqual(['anon_id', 'x y']);
  });

  it.each([
    '',
    'not base64!',
    encodeCursor(['a']),
    Buffer.from('c1:{"a":1}').toString('base64url'),
    'x'.repeat(3000),
  ])('reject %j as a two-key cursor', (cursor) => {
    expect(decodeCursor(cursor, 2)).toBeNull();
  });
});

describe('uuidv7', () => {
  it('makes valid ids that sort in creation order, also within one millisecond', () => {
    const ids = Array.from({ length: 1000 }, () => uuidv7(1_800_000_000_000));
    expect(ids.every(isUuid)).toBe(true);
    expect(ids.every((id) => id[14] === '7')).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
