/**
 * The gateway's JSON logger, and the one way errors are written to it: by type, SQLSTATE and the
 * first line of the message, never with query parameters, keys, vendor secrets or emails.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'identity-gateway' },
      redact: {
        paths: [
          'req.headers.authorization',
          '*.apiKey',
          '*.key',
          '*.token',
          '*.serviceAccount',
          '*.email',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

const EMAIL = /[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+/g;

/** Hides the local part of every email address in a text: `a***@example.com`. */
export function maskEmails(text: string): string {
  return text.replace(EMAIL, (email) => {
    const at = email.indexOf('@');
    return `${email.slice(0, 1)}***${email.slice(at)}`;
  });
}

/** An error as it may be logged: no SQL parameters (drizzle puts them after "params:"). */
export function safeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const message = maskEmails(error.message.split('\nparams:')[0].split('\n')[0].slice(0, 300));
  let code: unknown;
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    code ??= (e as { code?: unknown }).code;
    e = (e as { cause?: unknown }).cause;
  }
  const stack = error.stack
    ?.split('\n')
    .slice(1, 6)
    .map((l) => l.trim());
  return { type: error.name, message, ...(typeof code === 'string' ? { code } : {}), stack };
}
