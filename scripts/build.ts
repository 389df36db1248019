/**
 * `npm run build` (run by `npm ci` as the `prepare` script): the gateway as one JavaScript file,
 * dist/main.mjs, with a source map that points at the TypeScript sources; `npm start` runs it.
 *
 * One file because the process starts in about half the time: Node resolves, reads and compiles
 * one module instead of a thousand. Packages stay outside the bundle when they read files beside
 * their own code (the embedded database's WebAssembly, the playground's assets) or are optional
 * imports that are not installed (class-validator, which type-graphql tries only when asked to
 * validate). drizzle-orm stays outside too: the embedded database's driver is imported only when
 * it is used, and a bundler turns every module such an import reaches into lazily initialised
 * mutable variables, which made every query-building call measurably slower (about a sixth of
 * `profile(by:)` on the embedded database). Types are checked by `npm run check`, not here.
 *
 *   tsx scripts/build.ts [outdir]
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const EXTERNAL = [
  '@electric-sql/pglite',
  '@electric-sql/pglite/*',
  'graphiql',
  'react',
  'react-dom',
  'class-validator',
  'drizzle-orm',
  'drizzle-orm/*',
];

/** Bundles src/main.ts into `outdir`/main.mjs; resolves with the file's path. */
export async function buildGateway(outdir: string = path.join(root, 'dist')): Promise<string> {
  const outfile = path.join(outdir, 'main.mjs');
  await build({
    absWorkingDir: root,
    entryPoints: ['src/main.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    tsconfig: 'tsconfig.json',
    external: EXTERNAL,
    // Apollo's hash helper falls back to a JavaScript SHA-256 inside a bundle (see the file).
    alias: { '@apollo/utils.createhash': './src/lib/native-hash.ts' },
    // CommonJS packages inside an ES module still call require() for Node's own modules.
    banner: {
      js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);",
    },
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'warning',
  });
  return outfile;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildGateway(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
}
