/** Builders for test data: unique identifiers and request objects with sensible defaults. */
import { randomUUID } from 'node:crypto';

let counter = 0;

/** A fresh UUID v4, the form an anonymous id must have. */
export const anAnonId = (): string => randomUUID();

export const anExternalId = (prefix = 'user'): string =>
  `${prefix}-${process.pid}-${++counter}-${randomUUID().slice(0, 8)}`;

export const anAlias = (label = 'braze_alias') => ({
  aliasLabel: label,
  aliasName: anExternalId('alias'),
});

export function anEvent(overrides: Record<string, unknown> = {}) {
  return { name: 'viewed_page', time: new Date(Date.now() - 60_000).toISOString(), ...overrides };
}

export function aPurchase(overrides: Record<string, unknown> = {}) {
  return {
    productId: 'sku-1',
    priceCents: 1299,
    time: new Date(Date.now() - 60_000).toISOString(),
    ...overrides,
  };
}

export function aSession(overrides: Record<string, unknown> = {}) {
  const startedAt = new Date(Date.now() - 600_000);
  return {
    appId: 'ios',
    startedAt: startedAt.toISOString(),
    endedAt: new Date(startedAt.getTime() + 120_000).toISOString(),
    ...overrides,
  };
}
