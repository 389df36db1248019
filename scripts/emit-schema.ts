/**
 * `npm run schema:emit` writes the schema's SDL to schema/schema.graphql; with --check it only
 * compares and fails when the committed file differs from the code.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { printGatewaySchema } from '../src/http/build-schema.js';
import { packageRoot } from '../src/lib/package-root.js';

const file = path.join(packageRoot(), 'schema', 'schema.graphql');
const sdl = printGatewaySchema();
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    // missing counts as different
  }
  if (committed !== sdl) {
    console.error('schema/schema.graphql differs from the code: run `npm run schema:emit`');
    process.exit(1);
  }
  console.log('schema/schema.graphql matches the code');
} else {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, sdl);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
