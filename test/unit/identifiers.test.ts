import { describe, expect, it } from 'vitest';

import {
  identifierKey,
  isAnonIdFormat,
  isPlaceholderId,
  normalizeEmail,
  PLACEHOLDER_IDS,
} from '../../src/identity/engine/identifiers.js';

describe('placeholder identifiers', () => {
  it.each([
    ...PLACEHOLDER_IDS,
    'NULL',
    'Undefined',
    'ANONYMOUS',
    'NaN',
    '[object Object]',
    '"undefined"',
    "'null'",
    '" none "',
    '',
    '   ',
    '\t',
    '0000',
    '----',
    '0-0-0',
  ])('refuses %j', (value) => {
    expect(isPlaceholderId(value)).toBe(true);
  });

  it.each([
    'user-1',
    'alice@example.com',
    '10',
    'nullable',
    'undefined-user',
    'e6ab2c5e-2cda-44a9-a962-e2f67df78bca',
  ])('accepts %j', (value) => {
    expect(isPlaceholderId(value)).toBe(false);
  });
});

describe('anon id format', () => {
  it.each([
    'e6ab2c5e-2cda-44a9-a962-e2f67df78bca',
    'E6AB2C5E-2CDA-44A9-A962-E2F67DF78BCA',
    '$device:e6ab2c5e-2cda-44a9-a962-e2f67df78bca',
    '$device:E6AB2C5E-2CDA-44A9-B962-E2F67DF78BCA',
  ])('accepts the UUID v4 %s', (value) => {
    expect(isAnonIdFormat(value)).toBe(true);
  });

  it.each([
    ['a UUID v1', 'c232ab00-9414-11ec-b3c8-9f6bdeced846'],
    ['a UUID v7', '01a20829-e3f4-73c7-9535-c961127a11da'],
    ['a wrong variant', 'e6ab2c5e-2cda-44a9-c962-e2f67df78bca'],
    ['no dashes', 'e6ab2c5e2cda44a9a962e2f67df78bca'],
    ['braces', '{e6ab2c5e-2cda-44a9-a962-e2f67df78bca}'],
    ['a short id', 'anonId1234'],
    ['hex without dashes', '5094f5704b9cf2b3'],
    ['another prefix', '$user:e6ab2c5e-2cda-44a9-a962-e2f67df78bca'],
    ['white space', ' e6ab2c5e-2cda-44a9-a962-e2f67df78bca'],
    ['the all-zero UUID', '00000000-0000-0000-0000-000000000000'],
  ])('refuses %s', (_name, value) => {
    expect(isAnonIdFormat(value)).toBe(false);
  });
});

describe('identifier keys', () => {
  it('compares emails case-insensitively and keeps kinds apart', () => {
    expect(identifierKey({ kind: 'email', email: ' A@B.c ' })).toBe(
      identifierKey({ kind: 'email', email: 'a@b.C' }),
    );
    expect(normalizeEmail(' A@B.c ')).toBe('a@b.c');
    expect(identifierKey({ kind: 'externalId', externalId: 'x' })).not.toBe(
      identifierKey({ kind: 'alias', aliasLabel: 'x', aliasName: '' }),
    );
  });
});
