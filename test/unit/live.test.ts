import { describe, expect, it } from 'vitest';

import { decodeNotice, encodeNotice, type ChangeNotice } from '../../src/live/changes.js';
import { BoundedQueue } from '../../src/live/queue.js';

const uuid = (i: number) => `01a2${String(i).padStart(4, '0')}-0000-7000-8000-000000000000`;

describe('change notices', () => {
  it('go out in parts PostgreSQL accepts, and read back to the same changes', () => {
    const notice: ChangeNotice = {
      workspaceId: uuid(0),
      profiles: Array.from({ length: 400 }, (_, i) => uuid(i)),
      merges: Array.from({ length: 50 }, (_, i) => ({
        id: uuid(1000 + i),
        absorbedId: uuid(2000 + i),
        survivorId: uuid(i),
      })),
      forgotten: [uuid(3000)],
    };
    const parts = encodeNotice(notice);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(Buffer.byteLength(p)).toBeLessThan(8000);
    const read = parts.map((p) => decodeNotice(p)!);
    expect(new Set(read.map((r) => r.workspaceId))).toEqual(new Set([notice.workspaceId]));
    expect(read.flatMap((r) => r.profiles)).toEqual(notice.profiles);
    expect(read.flatMap((r) => r.merges)).toEqual(notice.merges);
    expect(read.flatMap((r) => r.forgotten)).toEqual(notice.forgotten);
  });

  it('are not sent when nothing changed, and a payload that is not one is ignored', () => {
    expect(encodeNotice({ workspaceId: uuid(0), profiles: [], merges: [], forgotten: [] })).toEqual(
      [],
    );
    expect(decodeNotice('not json')).toBeNull();
    expect(decodeNotice('{"p":[]}')).toBeNull();
  });
});

describe('BoundedQueue', () => {
  it('hands items over in order, then ends a consumer that fell behind with the overflow error', async () => {
    const queue = new BoundedQueue<number>(2, () => new Error('too slow'));
    const it = queue[Symbol.asyncIterator]();
    queue.push(1);
    queue.push(2);
    queue.push(3);
    queue.push(4);
    expect(await it.next()).toEqual({ value: 1, done: false });
    expect(await it.next()).toEqual({ value: 2, done: false });
    await expect(it.next()).rejects.toThrow('too slow');
  });

  it('lets a consumer waiting for the next item go when it ends', async () => {
    const queue = new BoundedQueue<number>(2, () => new Error('too slow'));
    const it = queue[Symbol.asyncIterator]();
    const waiting = it.next();
    queue.push(7);
    expect(await waiting).toEqual({ value: 7, done: false });
    const next = it.next();
    queue.end();
    expect(await next).toEqual({ value: undefined, done: true });
    queue.push(8);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });
});
