/** Rows of `db.execute`, which postgres.js returns as an array and PGlite as `{ rows }`. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** The one workspace of rows written by one statement (a statement names one workspace). */
export function oneWorkspace(rows: readonly { readonly workspaceId: string }[]): string {
  const [{ workspaceId }] = rows;
  if (rows.some((r) => r.workspaceId !== workspaceId)) {
    throw new Error('rows of one statement belong to one workspace');
  }
  return workspaceId;
}
