/**
 * `npm run check:links`: fails on a broken relative link in README.md or docs/*.md. Every
 * Markdown link, image and link reference definition whose target is relative (no scheme such as
 * `http:`, `https:` or `mailto:`) must name a file or folder of the repository, relative to the
 * file holding the link (a leading `/` counts from the repository's root). A `#anchor` into a
 * Markdown file, or alone for the same file, must be one that GitHub makes for a heading of that
 * file: the heading's text in lower case, punctuation other than `-` and `_` dropped, each space
 * a hyphen, and `-1`, `-2`… added to repeats; an HTML `id` or `name` counts too. Anchors into
 * other files (`#L10` on a source file) are not checked. Links inside fenced code blocks, code
 * spans and HTML comments do not count.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

interface ProseLine {
  /** 1-based line number in the file. */
  number: number;
  /** The line with HTML comments blanked, for headings. */
  plain: string;
  /** The line with HTML comments and code spans blanked, for links. */
  text: string;
}

const FENCE = /^\s*(`{3,}|~{3,})(.*)$/;

/** The lines of a Markdown file outside fenced code blocks. */
function proseLines(source: string): ProseLine[] {
  const lines: ProseLine[] = [];
  let fence: string | null = null;
  let inComment = false;
  source.split(/\r?\n/).forEach((raw, index) => {
    const fenceMatch = FENCE.exec(raw);
    if (fence !== null) {
      const [, marker = '', after = ''] = fenceMatch ?? [];
      if (marker[0] === fence[0] && marker.length >= fence.length && after.trim() === '') {
        fence = null;
      }
      return;
    }
    if (!inComment && fenceMatch && !(fenceMatch[1][0] === '`' && fenceMatch[2].includes('`'))) {
      fence = fenceMatch[1];
      return;
    }
    let text = '';
    let rest = raw;
    while (rest !== '') {
      if (inComment) {
        const end = rest.indexOf('-->');
        const skipped = end === -1 ? rest.length : end + 3;
        text += ' '.repeat(skipped);
        rest = rest.slice(skipped);
        if (end !== -1) inComment = false;
      } else {
        const start = rest.indexOf('<!--');
        if (start === -1) {
          text += rest;
          break;
        }
        text += rest.slice(0, start);
        rest = rest.slice(start);
        inComment = true;
      }
    }
    lines.push({ number: index + 1, plain: text, text: blankCodeSpans(text) });
  });
  return lines;
}

/** Replaces each code span (a run of backticks up to the next run of the same length) by spaces. */
function blankCodeSpans(line: string): string {
  return line.replace(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/g, (span) => ' '.repeat(span.length));
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"' };

/** The text GitHub renders for a heading's Markdown, as far as anchors go. */
function headingText(markdown: string): string {
  // split() with the span's two groups gives [prose, ticks, code, prose, ticks, code, …, prose]
  return markdown
    .split(/(`+)([\s\S]*?)\1(?!`)/)
    .map((part, i) => {
      if (i % 3 === 1) return '';
      if (i % 3 === 2) return /^ .* $/.test(part) ? part.slice(1, -1) : part;
      return part
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/!?\[([^\]]*)\]\[[^\]]*\]/g, '$1')
        .replace(/<[^>]+>/g, '')
        .replace(/&(amp|lt|gt|quot);/g, (_, name: string) => ENTITIES[name] ?? '')
        .replace(/\\([!-/:-@[-`{-~])/g, '$1')
        .replace(/(^|[^\p{L}\p{N}_])_+(?=\S)|(?<=\S)_+(?=$|[^\p{L}\p{N}_])/gu, '$1');
    })
    .join('')
    .trim();
}

/** GitHub's anchors for the headings of a Markdown file, in order, with -1, -2… for repeats. */
function anchorsOf(source: string): Set<string> {
  const anchors = new Set<string>();
  const occurrences = new Map<string, number>();
  const add = (heading: string): void => {
    const base = headingText(heading)
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    let anchor = base;
    while (occurrences.has(anchor)) {
      const count = (occurrences.get(base) ?? 0) + 1;
      occurrences.set(base, count);
      anchor = `${base}-${count}`;
    }
    occurrences.set(anchor, 0);
    anchors.add(anchor);
  };
  let paragraph: string[] = [];
  let previousNumber = 0;
  for (const { number, plain, text } of proseLines(source)) {
    if (number !== previousNumber + 1) paragraph = [];
    previousNumber = number;
    for (const m of text.matchAll(/<[^>]*\s(?:id|name)\s*=\s*["']([^"']+)["']/g)) anchors.add(m[1]);
    const atx = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(plain);
    if (atx) {
      add(atx[2] ?? '');
      paragraph = [];
    } else if (/^ {0,3}(=+|-+)[ \t]*$/.test(plain) && paragraph.length > 0) {
      add(paragraph.join(' '));
      paragraph = [];
    } else if (plain.trim() === '' || /^ {0,3}([>|*+-]|\d+[.)]\s|\s{4})/.test(plain)) {
      paragraph = [];
    } else {
      paragraph.push(plain.trim());
    }
  }
  return anchors;
}

/** Targets of the inline links and images of a line: what follows each `](`. */
function inlineTargets(text: string): string[] {
  const targets: string[] = [];
  for (let at = text.indexOf(']('); at !== -1; at = text.indexOf('](', at + 2)) {
    let i = at + 2;
    while (text[i] === ' ' || text[i] === '\t') i++;
    let target = '';
    if (text[i] === '<') {
      const end = text.indexOf('>', i);
      if (end === -1) continue;
      target = text.slice(i + 1, end);
    } else {
      let depth = 0;
      for (; i < text.length; i++) {
        const c = text[i];
        if (c === '\\' && i + 1 < text.length) {
          target += text[++i];
          continue;
        }
        if (/\s/.test(c) || (c === ')' && depth === 0)) break;
        if (c === '(') depth++;
        if (c === ')') depth--;
        target += c;
      }
    }
    targets.push(target);
  }
  return targets;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

const sources = [
  'README.md',
  ...(existsSync(path.join(root, 'docs'))
    ? readdirSync(path.join(root, 'docs'))
        .filter((name) => name.endsWith('.md'))
        .sort()
        .map((name) => `docs/${name}`)
    : []),
];

const anchorCache = new Map<string, Set<string>>();
function anchorsOfFile(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (!anchors) {
    anchors = anchorsOf(readFileSync(file, 'utf8'));
    anchorCache.set(file, anchors);
  }
  return anchors;
}

/** Why a relative link target is broken, or null when it is not. */
function problem(from: string, target: string): string | null {
  if (target === '') return 'empty link target';
  const hash = target.indexOf('#');
  const pathPart = decode((hash === -1 ? target : target.slice(0, hash)).replace(/\?.*$/, ''));
  const anchor = hash === -1 ? null : decode(target.slice(hash + 1));
  const file =
    pathPart === ''
      ? from
      : pathPart.startsWith('/')
        ? path.join(root, pathPart)
        : path.resolve(path.dirname(from), pathPart);
  const shown = path.relative(root, file);
  if (shown.startsWith('..') || path.isAbsolute(shown)) return 'outside the repository';
  if (!existsSync(file)) return `no file ${shown}`;
  if (anchor === null || anchor === '' || !/\.(md|markdown)$/i.test(file)) return null;
  if (statSync(file).isDirectory()) return null;
  return anchorsOfFile(file).has(anchor) ? null : `no heading in ${shown} makes #${anchor}`;
}

const broken: string[] = [];
let checked = 0;
for (const source of sources) {
  const file = path.join(root, source);
  for (const { number, text } of proseLines(readFileSync(file, 'utf8'))) {
    const definition = /^ {0,3}\[([^\]^][^\]]*)\]:[ \t]*(<[^>]*>|\S+)/.exec(text);
    const targets = inlineTargets(text);
    if (definition) targets.push(definition[2].replace(/^<(.*)>$/, '$1'));
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      checked++;
      const reason = problem(file, target);
      if (reason !== null) broken.push(`${source}:${number}: ${target || '""'} (${reason})`);
    }
  }
}

if (broken.length > 0) {
  for (const line of broken) console.error(line);
  console.error(`${broken.length} broken link(s) of ${checked} relative links`);
  process.exit(1);
}
console.log(`all ${checked} relative links in ${sources.length} Markdown files resolve`);
