/** The gateway's JSON logger. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'identity-gateway' },
    redact: {
      paths: ['req.headers.authorization', '*.apiKey', '*.key', '*.token'],
      censor: '[redacted]',
    },
  });
}
