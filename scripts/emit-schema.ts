/**
 * `npm run schema:emit` writes the schema's SDL to schema/schema.graphql; with --check it only
 * compares, and fails when the committed file differs from the code or when a schema element has
 * no description (the playground's Docs pane shows them).
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { buildGatewaySchema, printGatewaySchema } from '../src/http/build-schema.js';
import { packageRoot } from '../src/lib/package-root.js';
import { undocumented } from './undocumented.js';

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
  const missing = undocumented(buildGatewaySchema());
  if (missing.length > 0) {
    console.error(`${missing.length} schema element(s) without a description:`);
    for (const name of missing) console.error(`  ${name}`);
    process.exit(1);
  }
  console.log('schema/schema.graphql matches the code; every element has a description');
} else {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, sdl);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
