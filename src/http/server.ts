/**
 * The HTTP front door: GraphQL at /graphql through Apollo Server, health endpoints beside it, a
 * cap on body size, and a request id on every request. A small node:http integration, since
 * Apollo's standalone server cannot route other paths.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { GraphQLError, Kind, NoSchemaIntrospectionCustomRule, OperationTypeNode } from 'graphql';
import type { Logger } from 'pino';

import type { Config } from '../config/config.js';
import type { Database } from '../db/client.js';
import type { Principal } from '../auth/auth-service.js';
import { AppError } from '../lib/app-error.js';
import { buildGatewaySchema } from './build-schema.js';
import { contextOf, type GatewayContext, type Services } from './context.js';
import { corsHandler } from './cors.js';
import { createFormatError } from './format-error.js';
import { safeError } from '../log.js';
import { readiness } from './health.js';
import { playgroundAsset, playgroundPlugin } from './playground.js';
import type { CostContext } from '../lib/query-cost.js';
import { checkQueryLimits, KeyRateLimiter, measureOperation } from './limits.js';
import { asksOnlyForSchema } from './schema-only.js';
import { startSubscriptions } from './subscriptions.js';
import type { Metrics } from './metrics.js';

export interface HttpOptions {
  readonly http: Config['http'];
  readonly database: Database;
  readonly services: Services;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** What the query cost estimate sizes lists by. */
  readonly cost: CostContext;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

class BodyTooLargeError extends Error {}

export async function startHttpServer(options: HttpOptions): Promise<RunningServer> {
  const { http, database, services, logger, metrics, cost } = options;
  // The line logged for every request holds only ids, the operation's name, its outcome and its
  // time, none of them a path the logger redacts: checking its paths on every request cost about
  // a tenth of the process's CPU under load, for nothing.
  const requestLog = logger.child({}, { redact: [] });
  const httpServer = createServer();
  const rateLimiter = new KeyRateLimiter(http.rateLimitPerMinute);
  const applyCors = corsHandler(http.corsOrigins);
  const queryLimits = { maxDepth: http.maxQueryDepth, maxCost: http.maxQueryCost };
  const schema = buildGatewaySchema();
  const formatError = createFormatError(logger, (reason) => metrics.unavailable.inc({ reason }));
  const subscriptions = startSubscriptions({
    httpServer,
    schema,
    services,
    metrics,
    limits: http.subscriptions,
    queryLimits,
    maxQueryTokens: http.maxQueryTokens,
    cost,
    origins: http.corsOrigins,
    extraRules: http.introspection ? [] : [NoSchemaIntrospectionCustomRule],
    formatError,
  });
  const apollo = new ApolloServer<GatewayContext>({
    schema,
    introspection: http.introspection,
    includeStacktraceInErrorResponses: false,
    // The parser stops at this many tokens: a document nested thousands of levels deep is
    // refused before parsing it could exhaust the stack, and before any other check runs.
    parseOptions: { maxTokens: http.maxQueryTokens },
    // main.ts owns shutdown: it stops HTTP first, then closes the database (and its lock).
    stopOnTerminationSignals: false,
    formatError,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Sockets close with the HTTP server: their subscriptions end, their listeners go.
      { serverWillStart: () => Promise.resolve({ drainServer: () => subscriptions.dispose() }) },
      // No @cacheControl hints are used: without this, Apollo instruments every field it resolves.
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      // A subgraph would otherwise answer the router's trace header (ftv1) with every field's
      // timing and error, to any key holder who sends it, and say so on start in a line that is
      // not JSON. No router here collects traces.
      ApolloServerPluginInlineTraceDisabled(),
      http.playground ? playgroundPlugin() : ApolloServerPluginLandingPageDisabled(),
      {
        // Metrics by root field (bounded by the schema, unlike client-chosen operation names).
        requestDidStart: () => {
          const started = process.hrtime.bigint();
          let operation = 'unknown';
          return Promise.resolve({
            didResolveOperation: (rc) => {
              const first = rc.operation?.selectionSet.selections[0];
              if (first?.kind === Kind.FIELD) operation = first.name.value;
              const measure = measureOperation(
                rc.schema,
                rc.document,
                rc.operationName,
                rc.request.variables ?? {},
                cost,
              );
              checkQueryLimits(measure, queryLimits);
              return Promise.resolve();
            },
            willSendResponse: (rc) => {
              const body = rc.response.body;
              const errors = body.kind === 'single' ? body.singleResult.errors : undefined;
              const outcome = errors?.length ? codeOf(errors[0]?.extensions?.['code']) : 'ok';
              metrics.requests.inc({ operation, outcome });
              // A query answered without error changed nothing and is counted in /metrics: its
              // line is at debug. Mutations and every failure are at info.
              const level =
                outcome === 'ok' && rc.operation?.operation === OperationTypeNode.QUERY
                  ? 'debug'
                  : 'info';
              if (requestLog.isLevelEnabled(level)) {
                requestLog[level](
                  {
                    requestId: rc.contextValue.requestId,
                    workspaceId: rc.contextValue.scope.workspaceId,
                    keyId: rc.contextValue.principal.keyId,
                    operation,
                    outcome,
                    ms: Number(process.hrtime.bigint() - started) / 1e6,
                  },
                  'graphql request',
                );
              }
              metrics.latency.observe(
                { operation },
                Number(process.hrtime.bigint() - started) / 1e9,
              );
              return Promise.resolve();
            },
          });
        },
      },
    ],
  });
  await apollo.start();

  // Failures here (no key, over the rate limit) happen before Apollo's plugins see the request.
  const context = async (
    req: IncomingMessage,
    requestId: string,
    schemaOnly: boolean,
  ): Promise<GatewayContext> => {
    try {
      return await createContext(req, requestId, schemaOnly);
    } catch (error) {
      const code = error instanceof GraphQLError ? error.extensions['code'] : undefined;
      metrics.requests.inc({ operation: 'unknown', outcome: codeOf(code) });
      throw error;
    }
  };

  const createContext = async (
    req: IncomingMessage,
    requestId: string,
    schemaOnly: boolean,
  ): Promise<GatewayContext> => {
    if (schemaOnly) {
      // The playground's schema fetch before a key is entered: it reads no data.
      await rateLimiter.take(SCHEMA_READER.keyId);
      return contextOf(services, SCHEMA_READER, requestId);
    }
    let principal;
    try {
      principal = await services.auth.authenticate(req.headers.authorization);
    } catch (error) {
      if (error instanceof AppError) {
        throw new GraphQLError(error.message, {
          extensions: { code: error.code, http: { status: 401 } },
        });
      }
      throw error;
    }
    await rateLimiter.take(principal.keyId);
    return contextOf(services, principal, requestId);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (url.pathname === '/metrics') {
      const { contentType, body } = await metrics.render();
      res.setHeader('content-type', contentType);
      res.end(body);
      return;
    }
    if (url.pathname === '/readyz') {
      const report = await readiness(database);
      return sendJson(res, report.status === 'ok' ? 200 : 503, report);
    }
    if (http.playground && url.pathname.startsWith('/playground/')) {
      const asset = await playgroundAsset(url.pathname.slice('/playground/'.length));
      if (!asset) return sendJson(res, 404, { error: 'not found' });
      res.setHeader('content-type', `${asset.type}; charset=utf-8`);
      res.setHeader('cache-control', 'public, max-age=3600');
      res.end(asset.body);
      return;
    }
    if (url.pathname !== '/graphql')
      return sendJson(res, 404, { error: 'not found; GraphQL is at /graphql' });
    if (applyCors(req, res)) return;
    if (req.method === 'OPTIONS') {
      // A preflight from an origin not allowed, or a plain OPTIONS: what the path accepts, and no
      // Access-Control-* header (a browser then refuses the cross-origin request).
      res.statusCode = 204;
      res.setHeader('allow', 'GET, POST, OPTIONS');
      res.end();
      return;
    }

    let body: unknown;
    try {
      body = await readBody(req, http.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        return sendGraphQLError(
          res,
          413,
          `request body larger than ${http.maxBodyBytes} bytes`,
          'BAD_REQUEST',
        );
      }
      return sendGraphQLError(res, 400, 'request body is not valid JSON', 'BAD_REQUEST');
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    // Without a key, only a question about the schema is answered, and only where the
    // playground is on; every other request needs a key. An empty header, or "Bearer" with
    // nothing after it (the playground's starting headers), counts as none.
    const given = (req.headers.authorization ?? '').trim();
    const schemaOnly =
      http.playground &&
      (given === '' || /^bearer$/i.test(given)) &&
      asksOnlyForSchema(
        req.method === 'GET' ? { query: url.searchParams.get('query') } : body,
        http.maxQueryTokens,
      );
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: () => context(req, requestId, schemaOnly),
    });
    for (const [key, value] of result.headers) res.setHeader(key, value);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === 'complete') {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  };

  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      logger.error(
        { err: safeError(error), requestId: res.getHeader('x-request-id') },
        'request failed outside GraphQL',
      );
      if (!res.headersSent)
        sendGraphQLError(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(http.port, http.host, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = http.host.includes(':') ? `[${http.host}]` : http.host;
  return {
    url: `http://${host}:${port}/graphql`,
    port,
    stop: () => apollo.stop(),
  };
}

/** Who asks when a keyless request only reads the schema: no workspace, no scope. */
const SCHEMA_READER: Principal = {
  keyId: 'schema-reader',
  workspaceId: '',
  anonIdLabel: '',
  scopes: [],
};

/** An error code as a metric label. */
function codeOf(code: unknown): string {
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.-]{1,64}$/.test(given) ? given : randomUUID();
}

/** The request body: JSON parsed when sent as JSON, else the raw text (Apollo then refuses it). */
async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const text = await readText(req, limit);
  const type = req.headers['content-type'] ?? '';
  if (text === '' || !/^application\/(.+\+)?json/i.test(type)) return text;
  return JSON.parse(text) as unknown;
}

/**
 * The body as text, read from the stream's events rather than its async iterator (which cost a
 * request a few per cent of its CPU); a body over `limit` bytes is drained unread and refused.
 */
function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const refuse = () => {
      req.removeAllListeners('data');
      req.resume();
      reject(new BodyTooLargeError());
    };
    if (Number(req.headers['content-length'] ?? 0) > limit) return refuse();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) refuse();
      else chunks.push(chunk);
    });
    req.once('error', reject);
    req.once('end', () => {
      if (size <= limit) resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}

function sendGraphQLError(
  res: ServerResponse,
  status: number,
  message: string,
  code: string,
): void {
  sendJson(res, status, { errors: [{ message, extensions: { code } }] });
}
