/**
 * Checks every statement a test file sends through drizzle (the gateway's and the test's own)
 * against the Citus lint (citus-lint.ts). The file fails after its tests when one broke a rule
 * (setup.ts), with the statement and the rule in the error.
 */
import { check, type Analysis, type Violation } from './citus-lint.js';

const cache = new Map<string, Analysis>();
const found = new Map<string, Violation & { readonly text: string }>();

export function recordStatement(text: string, params: readonly unknown[]): void {
  for (const v of check(text, params, cache)) {
    const key = `${v.rule}\u0000${text}`;
    if (!found.has(key)) found.set(key, { ...v, text });
  }
}

/** What this file's statements broke, as a report; empty when nothing. */
export function lintReport(): string {
  if (found.size === 0) return '';
  const lines = [...found.values()].map(
    (v) => `- [${v.rule}] ${v.detail}\n  ${v.text.replace(/\s+/g, ' ').slice(0, 2000)}`,
  );
  return `${found.size} statement(s) break the rules for distributed tables (test/helpers/citus-lint.ts):\n${lines.join('\n')}`;
}
