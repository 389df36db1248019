/**
 * Stands in for `@apollo/utils.createhash` in the build (see scripts/build.ts). That package uses
 * Node's crypto only when its CommonJS `module.require` exists, which a bundle's module wrapper
 * lacks, and otherwise hashes in JavaScript: every request's query hash then cost Apollo a
 * JavaScript SHA-256 instead of a native one.
 */
import { createHash as nodeCreateHash, type Hash } from 'node:crypto';

export function createHash(kind: string): Hash {
  return nodeCreateHash(kind);
}
