/**
 * Errors a caller caused or may act on, with the code the API reports for them. Services throw
 * these; the HTTP layer turns them into GraphQL errors with the same `extensions.code`. Anything
 * else that escapes is an internal failure and is masked.
 */
export type ErrorCode =
  'UNAUTHENTICATED' | 'FORBIDDEN' | 'BAD_USER_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'RATE_LIMITED';

export interface InputProblem {
  /** Where in the input, e.g. `input.events[3].name`. */
  readonly path: string;
  readonly message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export function badInput(problems: readonly InputProblem[]): AppError {
  const first = problems[0];
  const summary = first ? `${first.path}: ${first.message}` : 'invalid input';
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return new AppError('BAD_USER_INPUT', summary + more, { problems });
}

export const forbidden = (message: string) => new AppError('FORBIDDEN', message);
export const notFound = (message: string) => new AppError('NOT_FOUND', message);
export const conflict = (message: string) => new AppError('CONFLICT', message);
