/**
 * `npm run check:cycles`: fails when modules under src/ import each other in a cycle at run time
 * (type-only imports are erased by the compiler and do not count). A cycle between ES modules
 * can leave a class undefined while decorators run, so none is allowed.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

import { packageRoot } from '../src/lib/package-root.js';

const src = path.join(packageRoot(), 'src');
const IMPORT = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s+['"](\.{1,2}\/[^'"]+)['"]/gm;
const SIDE_EFFECT = /^\s*import\s+['"](\.{1,2}\/[^'"]+)['"]/gm;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
  });
}

/** Runtime imports of a module: skips `import type` and imports whose names are all `type X`. */
function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const targets: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const [, , typeOnly, clause = '', spec = ''] = m;
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    const allTypes =
      names !== undefined &&
      !clause.replace(/\{[^}]*\}/, '').replace(/[\s,]/g, '') &&
      names.split(',').every((n) => n.trim() === '' || n.trim().startsWith('type '));
    if (!typeOnly && !allTypes) targets.push(spec);
  }
  for (const m of text.matchAll(SIDE_EFFECT)) targets.push(m[1]);
  return targets.map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
}

const graph = new Map(files(src).map((f) => [f, runtimeImports(f)]));
const state = new Map<string, 'visiting' | 'done'>();
const cycles: string[][] = [];

function visit(file: string, trail: string[]): void {
  if (state.get(file) === 'done') return;
  if (state.get(file) === 'visiting') {
    cycles.push([...trail.slice(trail.indexOf(file)), file]);
    return;
  }
  state.set(file, 'visiting');
  for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...trail, file]);
  state.set(file, 'done');
}
for (const file of graph.keys()) visit(file, []);

if (cycles.length > 0) {
  for (const cycle of cycles) {
    console.error('import cycle: ' + cycle.map((f) => path.relative(src, f)).join(' -> '));
  }
  process.exit(1);
}
console.log(`no import cycles among ${graph.size} modules in src/`);
