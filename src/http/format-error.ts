/**
 * The one place that decides what a caller sees of an error: known codes pass with their message,
 * a failure worth retrying (lost races, a database time limit) is answered UNAVAILABLE with
 * `reason` and `retryAfterMs`, anything else is logged with its cause and answered as
 * INTERNAL_SERVER_ERROR, with no stack and no SQL.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';

import { unavailableBecause, type UnavailableReason } from '../db/transaction.js';
import { AppError } from '../lib/app-error.js';
import { safeError } from '../log.js';

/** Codes whose messages are written for callers (ours and graphql-js/Apollo's request errors). */
const PUBLIC_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

const UNAVAILABLE_MESSAGES: Readonly<Record<UnavailableReason, string>> = {
  CONTENTION: 'other requests kept changing the same users; nothing was changed, retry',
  LOCK_TIMEOUT: 'waited too long for another request on the same users; nothing was changed, retry',
  STATEMENT_TIMEOUT: 'the database took too long; nothing was changed, retry',
  TRANSACTION_TIMEOUT: 'the database ended a stalled transaction; nothing was changed, retry',
};

export function createFormatError(
  logger: Logger,
  onUnavailable: (reason: UnavailableReason) => void = () => {},
) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const unavailable = unavailableBecause(original);
    if (unavailable) {
      onUnavailable(unavailable.reason);
      logger.warn(
        { err: safeError(original), path: formatted.path, reason: unavailable.reason },
        'request answered UNAVAILABLE',
      );
      return {
        message: UNAVAILABLE_MESSAGES[unavailable.reason],
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'UNAVAILABLE', ...unavailable },
      };
    }
    if (original instanceof AppError) {
      return {
        message: original.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { ...original.details, code: original.code },
      };
    }
    // graphql-js's own request errors (e.g. "Too many errors processing variables") carry no
    // code and no cause: they are about the request, not a failure of the gateway.
    if (
      original instanceof GraphQLError &&
      !original.originalError &&
      !original.path &&
      original.extensions['code'] === undefined
    ) {
      return {
        message: formatted.message,
        locations: formatted.locations,
        extensions: { code: 'BAD_USER_INPUT' },
      };
    }
    const code = formatted.extensions?.['code'];
    if (typeof code === 'string' && PUBLIC_CODES.has(code)) {
      const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    logger.error(
      { err: safeError(original), path: formatted.path },
      'unexpected error in a GraphQL request',
    );
    return {
      message: 'Internal server error',
      locations: formatted.locations,
      path: formatted.path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
