import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { printGatewaySchema } from '../../src/http/build-schema.js';
import { packageRoot } from '../../src/lib/package-root.js';

describe('schema/schema.graphql', () => {
  it('is exactly the SDL the code emits (run `npm run schema:emit` after changing types)', () => {
    const committed = readFileSync(path.join(packageRoot(), 'schema', 'schema.graphql'), 'utf8');
    expect(printGatewaySchema()).toBe(committed);
  });
});
