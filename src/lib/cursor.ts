/** Opaque page cursors: a versioned list of key values, base64url-encoded. */
import { unstorableText } from './text.js';

const PREFIX = 'c1:';

export function encodeCursor(values: readonly string[]): string {
  return Buffer.from(PREFIX + JSON.stringify(values), 'utf8').toString('base64url');
}

/** The key values of a cursor, or null when it is not one this API issued. */
export function decodeCursor(cursor: string, length: number): string[] | null {
  if (cursor.length > 2048 || !/^[A-Za-z0-9_-]*$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith(PREFIX)) return null;
  try {
    const values: unknown = JSON.parse(text.slice(PREFIX.length));
    if (
      Array.isArray(values) &&
      values.length === length &&
      values.every((v): v is string => typeof v === 'string' && unstorableText(v) === null)
    ) {
      return values;
    }
  } catch {
    // not JSON: not ours
  }
  return null;
}
