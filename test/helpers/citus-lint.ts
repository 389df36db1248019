/**
 * A lint of SQL statements against the rules that keep the gateway runnable on Citus (DESIGN.md,
 * "Distributed tables (Citus)"; docs/scaling.md). The test suite records every statement
 * it sends through drizzle and fails on one that breaks a rule (see global-setup.ts):
 *
 * 1. `workspace`: every use of a distributed table sits in a query block (the statement, or a
 *    parenthesised subquery) that pins `workspace_id` to one value (a parameter or a literal), or
 *    joins it to another `workspace_id` of that block; an INSERT lists `workspace_id` among its
 *    columns. Together with rule 2 this routes the statement to one shard.
 * 2. `one-workspace`: the values pinned in one statement are all the same workspace (checked on
 *    the parameters each time the statement is sent).
 * 3. `lock`: `FOR UPDATE` / `FOR SHARE` only in a statement that rules 1 and 2 route to one
 *    workspace (checked by them: a locking statement that breaks them is reported as a lock).
 * 4. `stable-in-write`: in an UPDATE or DELETE, no cast to a time type (`::timestamptz`,
 *    `::timestamp`, `::date`, `::time`) of anything but a parameter or a literal, and no `now()`
 *    or `current_timestamp` (the time comes as a parameter).
 *
 * It reads SQL as tokens, not as a grammar: simple, and precise for the statements drizzle and
 * the gateway write. Statements that break a rule on purpose are listed in EXCEPTIONS with the
 * reason.
 */
import { DISTRIBUTED_TABLES } from '../../src/db/distribution.js';

export type Rule = 'workspace' | 'one-workspace' | 'lock' | 'stable-in-write';

export interface Violation {
  readonly rule: Rule;
  readonly detail: string;
}

/** Statements allowed to break a rule, each with the reason. */
export const EXCEPTIONS: readonly { pattern: RegExp; rules: Rule[]; reason: string }[] = [
  {
    pattern: /from outbox_messages\s+where status in \('PENDING', 'RETRYING'\) group by vendor/,
    rules: ['workspace'],
    reason:
      'the outbox gauges of /metrics read every workspace on purpose: a multi-shard SELECT ' +
      'without locks, which Citus runs on every node (docs/scaling.md)',
  },
];

type Kind = 'word' | 'quoted' | 'string' | 'param' | 'number' | 'op' | 'open' | 'close';

interface Token {
  readonly kind: Kind;
  /** Lower-cased words and quoted identifiers without quotes; strings as written. */
  readonly text: string;
  /** The query block the token belongs to (0: the statement). */
  block: number;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  const push = (kind: Kind, text: string) => tokens.push({ kind, text, block: 0 });
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && source[i + 1] === '-') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === "'") {
      let j = i + 1;
      while (j < source.length && !(source[j] === "'" && source[j + 1] !== "'")) {
        j += source[j] === "'" ? 2 : 1;
      }
      push('string', source.slice(i, j + 1));
      i = j + 1;
    } else if (c === '"') {
      const j = source.indexOf('"', i + 1);
      push('quoted', source.slice(i + 1, j).toLowerCase());
      i = j + 1;
    } else if (c === '$' && /\d/.test(source[i + 1] ?? '')) {
      let j = i + 1;
      while (/\d/.test(source[j] ?? '')) j++;
      push('param', source.slice(i, j));
      i = j;
    } else if (/[a-z_]/i.test(c)) {
      let j = i;
      while (/[a-z0-9_$]/i.test(source[j] ?? '')) j++;
      push('word', source.slice(i, j).toLowerCase());
      i = j;
    } else if (/\d/.test(c)) {
      let j = i;
      while (/[\d.]/.test(source[j] ?? '')) j++;
      push('number', source.slice(i, j));
      i = j;
    } else if (c === '(') {
      push('open', c);
      i++;
    } else if (c === ')') {
      push('close', c);
      i++;
    } else if (c === ':' && source[i + 1] === ':') {
      push('op', '::');
      i += 2;
    } else {
      push('op', c);
      i++;
    }
  }
  return tokens;
}

const BLOCK_STARTERS = new Set(['select', 'with', 'insert', 'update', 'delete', 'values']);

/** Gives each token its query block: a parenthesis that opens with a query starts a new one. */
function assignBlocks(tokens: Token[]): void {
  const stack: number[] = [0];
  let blocks = 1;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const outer = stack[stack.length - 1];
    t.block = outer;
    if (t.kind === 'open') {
      const next = tokens[i + 1];
      const starts = next?.kind === 'word' && BLOCK_STARTERS.has(next.text);
      stack.push(starts ? blocks++ : outer);
    } else if (t.kind === 'close' && stack.length > 1) {
      stack.pop();
      t.block = stack[stack.length - 1];
    }
  }
}

const isName = (t: Token | undefined) => t?.kind === 'word' || t?.kind === 'quoted';

/** Where a table is used: after FROM, JOIN, UPDATE, INTO, or a comma of a FROM list. */
function tableUses(tokens: Token[], tables: ReadonlySet<string>): { at: number; name: string }[] {
  const uses: { at: number; name: string }[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!isName(t) || !tables.has(t.text)) continue;
    // A column reference `x.profiles` or a schema-qualified name: look behind one dot.
    const before = tokens[i - 1];
    const qualifiedBy = before?.text === '.' ? tokens[i - 2] : undefined;
    if (before?.text === '.' && qualifiedBy?.text !== 'public') continue;
    const lead = qualifiedBy ? tokens[i - 3] : before;
    if (
      lead?.kind === 'word' &&
      ['from', 'join', 'update', 'into', 'only'].includes(lead.text) &&
      (lead.text === 'into' || tokens[i + 1]?.text !== '(')
    ) {
      uses.push({ at: i, name: t.text });
    } else if (lead?.text === ',' && inFromList(tokens, i)) {
      uses.push({ at: i, name: t.text });
    }
  }
  return uses;
}

/** True when the comma before token i belongs to a FROM list of the token's block. */
function inFromList(tokens: Token[], i: number): boolean {
  const block = tokens[i].block;
  for (let j = i - 1; j >= 0; j--) {
    const t = tokens[j];
    if (t.block !== block || t.kind !== 'word') continue;
    if (t.text === 'from') return true;
    if (['select', 'where', 'set', 'on', 'group', 'order', 'returning', 'values'].includes(t.text))
      return false;
  }
  return false;
}

/** The index after an optional `alias.` (or `"alias".`) before a column name at i. */
function columnAt(tokens: Token[], i: number, column: string): number | null {
  const t = tokens[i];
  if (!isName(t) || t.text !== column) return null;
  if (tokens[i + 1]?.text === '.') return null;
  return i + 1;
}

interface Pin {
  readonly block: number;
  /** A parameter ($n), a literal, or null for a join to another workspace_id. */
  readonly value: string | null;
}

/** `workspace_id = <param|literal|workspace_id>` (either side), per block. */
function workspacePins(tokens: Token[]): Pin[] {
  const pins: Pin[] = [];
  const valueAt = (j: number): { value: string | null; ok: boolean } => {
    const t = tokens[j];
    if (t?.kind === 'param' || t?.kind === 'string') return { value: t.text, ok: true };
    // alias.workspace_id or workspace_id
    const k = isName(t) && tokens[j + 1]?.text === '.' ? j + 2 : j;
    if (isName(tokens[k]) && tokens[k].text === 'workspace_id') return { value: null, ok: true };
    return { value: null, ok: false };
  };
  for (let i = 0; i < tokens.length; i++) {
    const after = columnAt(tokens, i, 'workspace_id');
    if (after === null) continue;
    if (tokens[after]?.text === '=') {
      const v = valueAt(after + 1);
      if (v.ok) pins.push({ block: tokens[i].block, value: v.value });
      continue;
    }
    // <param|literal> = [alias.]workspace_id
    const start = tokens[i - 1]?.text === '.' ? i - 2 : i;
    if (tokens[start - 1]?.text === '=') {
      const v = tokens[start - 2];
      if (v?.kind === 'param' || v?.kind === 'string') {
        pins.push({ block: tokens[i].block, value: v.text });
      }
    }
  }
  return pins;
}

/** The column list of `INSERT INTO t (...)` names workspace_id. */
function insertNamesWorkspace(tokens: Token[], at: number): boolean {
  let i = at + 1;
  if (tokens[i]?.text === '.') i += 2;
  if (isName(tokens[i]) && tokens[i].text !== 'select' && tokens[i + 1]?.text === '(') i++;
  if (tokens[i]?.kind !== 'open') return false;
  for (let j = i + 1; j < tokens.length && tokens[j].kind !== 'close'; j++) {
    if (isName(tokens[j]) && tokens[j].text === 'workspace_id') return true;
  }
  return false;
}

const TIME_TYPES = new Set(['timestamptz', 'timestamp', 'date', 'time', 'timetz']);

/** An UPDATE or DELETE statement, or an upsert's DO UPDATE (not a locking FOR UPDATE). */
function writes(tokens: Token[]): boolean {
  return tokens.some((t, i) => {
    if (t.kind !== 'word') return false;
    const before = tokens[i - 1]?.text;
    if (t.text === 'update') return before !== 'for' && before !== 'key';
    return t.text === 'delete' && before !== 'on';
  });
}

/** Casts to time types of anything but a parameter or literal, and now(), in a write. */
function stableInWrite(tokens: Token[]): string[] {
  if (!writes(tokens)) return [];
  const found: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind === 'word' && t.text === 'now' && tokens[i + 1]?.kind === 'open') {
      found.push('now()');
    } else if (t.kind === 'word' && t.text === 'current_timestamp') {
      found.push('current_timestamp');
    } else if (t.text === '::' && TIME_TYPES.has(tokens[i + 1]?.text ?? '')) {
      // Walk back over a chain of casts to what is cast.
      let j = i - 1;
      while (tokens[j - 1]?.text === '::') j -= 2;
      const operand = tokens[j];
      if (operand?.kind !== 'param' && operand?.kind !== 'string') {
        found.push(`${operand?.text ?? '?'}::${tokens[i + 1].text}`);
      }
    }
  }
  return found;
}

/** What a statement's text says, computed once per text. */
export interface Analysis {
  readonly violations: Violation[];
  /** Parameter numbers (1-based) and literals that pin workspaces; checked per execution. */
  readonly pinned: readonly string[];
  readonly locks: boolean;
}

export function analyse(text: string): Analysis {
  const tokens = tokenize(text);
  assignBlocks(tokens);
  const distributed = new Set(DISTRIBUTED_TABLES);
  const uses = tableUses(tokens, distributed);
  const pins = workspacePins(tokens);
  // A block is pinned by a value, or by a join to a workspace_id pinned elsewhere (a correlated
  // subquery, a join condition) when the statement pins a value somewhere.
  const anyValue = pins.some((p) => p.value !== null);
  const pinned = new Set<number>(
    pins.filter((p) => p.value !== null || anyValue).map((p) => p.block),
  );
  const locks = tokens.some(
    (t, i) =>
      t.kind === 'word' &&
      t.text === 'for' &&
      ['update', 'share', 'no', 'key'].includes(tokens[i + 1]?.text ?? '') &&
      tokens[i - 1]?.text !== 'do',
  );
  const violations: Violation[] = [];
  for (const use of uses) {
    const lead = tokens[use.at - 1]?.text === '.' ? tokens[use.at - 3] : tokens[use.at - 1];
    if (lead?.text === 'into') {
      if (!insertNamesWorkspace(tokens, use.at)) {
        violations.push({
          rule: 'workspace',
          detail: `insert into ${use.name} without workspace_id`,
        });
      }
      continue;
    }
    if (!pinned.has(tokens[use.at].block)) {
      violations.push({
        rule: locks ? 'lock' : 'workspace',
        detail: `${use.name} used without workspace_id = <one value> in its query block`,
      });
    }
  }
  for (const cast of stableInWrite(tokens)) {
    violations.push({ rule: 'stable-in-write', detail: `${cast} in an UPDATE or DELETE` });
  }
  const values = pins.map((p) => p.value).filter((v): v is string => v !== null);
  return { violations, pinned: [...new Set(values)], locks };
}

/** The workspaces a statement pins with these parameters (more than one breaks rule 2). */
export function pinnedWorkspaces(analysis: Analysis, params: readonly unknown[]): Set<string> {
  const seen = new Set<string>();
  for (const p of analysis.pinned) {
    if (p.startsWith('$')) {
      const value = params[Number(p.slice(1)) - 1];
      seen.add(String(value));
    } else {
      seen.add(p.slice(1, -1).replace(/''/g, "'"));
    }
  }
  return seen;
}

/** The exception that allows a rule for a statement, if any. */
export function exceptionFor(text: string, rule: Rule) {
  return EXCEPTIONS.find((e) => e.rules.includes(rule) && e.pattern.test(text));
}

/** All violations of one execution of a statement, exceptions applied. */
export function check(
  text: string,
  params: readonly unknown[],
  cache: Map<string, Analysis>,
): Violation[] {
  let analysis = cache.get(text);
  if (!analysis) {
    analysis = analyse(text);
    cache.set(text, analysis);
  }
  const found = [...analysis.violations];
  const workspaces = pinnedWorkspaces(analysis, params);
  if (workspaces.size > 1) {
    found.push({
      rule: analysis.locks ? 'lock' : 'one-workspace',
      detail: `pins ${workspaces.size} different workspace values`,
    });
  }
  return found.filter((v) => !exceptionFor(text, v.rule));
}
