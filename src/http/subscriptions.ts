/**
 * GraphQL subscriptions over WebSocket with the graphql-ws protocol (what Apollo Client, urql and
 * GraphiQL speak), on the HTTP server's port and path `/graphql`. The key goes in
 * `connectionParams.authorization`: a missing or bad one closes the socket with 4401, a key
 * without `profiles:read` with 4403. Only subscriptions run here (queries and mutations go over
 * HTTP, with its rate limit); each document passes the same token, depth and cost limits as over
 * HTTP. Limits per connection and per key, the initialisation timeout and the bounded queue of a
 * slow consumer are in SubscriptionLimits; each refusal is counted in /metrics.
 */
import type { IncomingMessage, Server } from 'node:http';

import {
  getOperationAST,
  GraphQLError,
  Kind,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type ExecutionArgs,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';

import type { Principal } from '../auth/auth-service.js';
import { requireScope } from '../auth/scopes.js';
import type { SubscriptionLimits } from '../config/config.js';
import { AppError } from '../lib/app-error.js';
import type { CostContext } from '../lib/query-cost.js';
import type { LiveContext } from '../live/graphql/live.resolver.js';
import { contextOf, type Services } from './context.js';
import { checkQueryLimits, measureOperation, type QueryLimits } from './limits.js';
import type { Metrics } from './metrics.js';

export interface SubscriptionServerOptions {
  readonly httpServer: Server;
  readonly schema: GraphQLSchema;
  readonly services: Services;
  readonly metrics: Metrics;
  readonly limits: SubscriptionLimits;
  readonly queryLimits: QueryLimits;
  readonly maxQueryTokens: number;
  readonly cost: CostContext;
  /** Origins allowed besides the gateway's own (CORS_ORIGINS). */
  readonly origins: readonly string[];
  /** Validation rules beyond graphql-js's (introspection off in production). */
  readonly extraRules: readonly ValidationRule[];
  readonly formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}

const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_FORBIDDEN = 4403;

/** Closes with a reason cut to the 123 bytes a close frame allows. */
function closeWith(socket: WebSocket, code: number, reason: string): void {
  let cut = reason;
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1);
  socket.close(code, cut);
}

/** What a connection carries once its key is accepted (a type, not an interface: graphql-ws wants it indexable). */
type Accepted = {
  principal: Principal;
  /** This connection's running subscriptions: their ids and root fields. */
  running: Map<string, string>;
};

type Extra = { readonly socket: WebSocket; readonly request: IncomingMessage } & Partial<Accepted>;

/** Starts serving subscriptions beside the HTTP server; `dispose` closes every socket. */
export function startSubscriptions(o: SubscriptionServerOptions): { dispose(): Promise<void> } {
  const allowed = new Set(o.origins);
  const wsServer = new WebSocketServer({
    server: o.httpServer,
    path: '/graphql',
    // A browser says where the page came from: only the gateway's own pages (the playground)
    // and the origins of CORS_ORIGINS may open a socket. Other clients send no Origin.
    verifyClient: ({ origin, req }: { origin?: string; req: IncomingMessage }) =>
      !origin ||
      allowed.has(origin) ||
      origin === `http://${req.headers.host}` ||
      origin === `https://${req.headers.host}`,
  });
  const perKey = new Map<string, number>();
  const release = (extra: Extra, id: string) => {
    const field = extra.running?.get(id);
    if (field === undefined || !extra.principal) return;
    extra.running!.delete(id);
    o.metrics.subscriptions.dec({ field });
    const keyId = extra.principal.keyId;
    const left = (perKey.get(keyId) ?? 1) - 1;
    if (left > 0) perKey.set(keyId, left);
    else perKey.delete(keyId);
  };
  const refuse = (reason: string, message: string) => {
    o.metrics.subscriptionsRefused.inc({ reason });
    return [new GraphQLError(message, { extensions: { code: 'RATE_LIMITED', reason } })];
  };
  const format = (errors: readonly GraphQLError[]) =>
    errors.map((e) => o.formatError(e.toJSON(), e));

  wsServer.on('connection', (socket) => {
    o.metrics.sockets.inc();
    socket.once('close', (code) => {
      o.metrics.sockets.dec();
      o.metrics.socketsClosed.inc({ code: String(code) });
    });
  });

  const server = useServer<Record<string, unknown> | undefined, Accepted>(
    {
      connectionInitWaitTimeout: o.limits.initTimeoutMs,
      onConnect: async (ctx) => {
        const header = ctx.connectionParams?.['authorization'];
        if (typeof header !== 'string') {
          closeWith(
            ctx.extra.socket,
            CLOSE_UNAUTHORIZED,
            'Unauthorized: send the API key as connectionParams { "authorization": "Bearer igw_..." }',
          );
          return false;
        }
        let principal: Principal;
        try {
          principal = await o.services.auth.authenticate(header);
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          closeWith(ctx.extra.socket, CLOSE_UNAUTHORIZED, `Unauthorized: ${error.message}`);
          return false;
        }
        try {
          requireScope(principal.scopes, 'profiles:read');
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          closeWith(ctx.extra.socket, CLOSE_FORBIDDEN, `Forbidden: ${error.message}`);
          return false;
        }
        ctx.extra.principal = principal;
        ctx.extra.running = new Map();
        return true;
      },
      onSubscribe: (ctx, id, payload) => {
        const principal = ctx.extra.principal!;
        let document;
        try {
          document = parse(payload.query, { maxTokens: o.maxQueryTokens });
        } catch (error) {
          return [
            error instanceof GraphQLError
              ? new GraphQLError(error.message, {
                  extensions: { code: 'GRAPHQL_PARSE_FAILED' },
                })
              : new GraphQLError('the document could not be parsed'),
          ];
        }
        const invalid = validate(o.schema, document, [...specifiedRules, ...o.extraRules]);
        if (invalid.length > 0) {
          return invalid.map(
            (e) =>
              new GraphQLError(e.message, {
                nodes: e.nodes,
                extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
              }),
          );
        }
        const operation = getOperationAST(document, payload.operationName);
        if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) {
          return [
            new GraphQLError(
              'only subscriptions run over WebSocket; send queries and mutations to /graphql over HTTP',
              { extensions: { code: 'BAD_REQUEST' } },
            ),
          ];
        }
        const variables = payload.variables ?? {};
        try {
          checkQueryLimits(
            measureOperation(o.schema, document, payload.operationName, variables, o.cost),
            o.queryLimits,
          );
        } catch (error) {
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const running = ctx.extra.running!;
        if (running.size >= o.limits.perConnection) {
          return refuse(
            'PER_CONNECTION',
            `at most ${o.limits.perConnection} subscriptions may run on one connection`,
          );
        }
        const ofKey = perKey.get(principal.keyId) ?? 0;
        if (ofKey >= o.limits.perKey) {
          return refuse(
            'PER_KEY',
            `at most ${o.limits.perKey} subscriptions may run with one API key on this process`,
          );
        }
        const first = operation.selectionSet.selections[0];
        const field = first?.kind === Kind.FIELD ? first.name.value : 'unknown';
        running.set(id, field);
        perKey.set(principal.keyId, ofKey + 1);
        o.metrics.subscriptions.inc({ field });
        const contextValue: LiveContext = {
          ...contextOf(o.services, principal, `ws-${id}`),
          queueLimit: o.limits.queue,
          onSlowConsumer: () => o.metrics.subscriptionsRefused.inc({ reason: 'SLOW_CONSUMER' }),
        };
        const args: ExecutionArgs = {
          schema: o.schema,
          document,
          operationName: payload.operationName,
          variableValues: variables,
          contextValue,
        };
        return args;
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: format(result.errors) } : undefined,
      onError: (_ctx, _id, _payload, errors) => format(errors),
      onComplete: (ctx, id) => release(ctx.extra, id),
    },
    wsServer,
  );

  return {
    dispose: async () => {
      for (const client of wsServer.clients) client.close(1001, 'server shutting down');
      await server.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}
