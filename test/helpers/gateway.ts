/**
 * A real gateway for GraphQL tests: the HTTP server on an ephemeral port over the test database,
 * with helpers to create workspaces and keys and to send operations over HTTP.
 */
import { pino } from 'pino';

import type { BrazeSettings, MixpanelSettings } from '../../src/config/config.js';
import type { Database } from '../../src/db/client.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { testConfig } from './config.js';
import { openTestDatabase } from './database.js';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
}

export interface TestGateway {
  readonly url: string;
  readonly database: Database;
  readonly gateway: Gateway;
  /** SQL statements sent since the last reset (for N+1 checks). */
  readonly queries: string[];
  newWorkspace(options?: {
    anonIdLabel?: string;
    mixpanel?: MixpanelSettings | null;
    braze?: BrazeSettings | null;
  }): Promise<{ workspaceId: string; key: string }>;
  newKey(workspaceId: string, scopes: string[]): Promise<string>;
  gql<T = Record<string, any>>(
    key: string | null,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GraphQLResponse<T>>;
  close(): Promise<void>;
}

export async function startTestGateway(
  env: Record<string, string> = {},
  options: { logLines?: string[]; logLevel?: string } = {},
): Promise<TestGateway> {
  const queries: string[] = [];
  const config = testConfig(env);
  const database = await openTestDatabase({
    onQuery: (q) => queries.push(q),
    timeouts: config.db.timeouts,
    ...(env['DATABASE_POOL_SIZE'] ? { poolSize: config.db.poolSize } : {}),
  });
  const logger = options.logLines
    ? createLogger(options.logLevel ?? 'debug', {
        write: (line: string) => void options.logLines!.push(line),
      })
    : pino({ level: process.env['DEBUG_LOG'] ?? 'silent' });
  const gateway = await startGateway(config, database, logger);
  const url = gateway.server.url.replace('0.0.0.0', '127.0.0.1');
  let n = 0;
  return {
    url,
    database,
    gateway,
    queries,
    async newWorkspace(options = {}) {
      const { workspace, key } = await gateway.services.auth.createWorkspace({
        name: `test-${process.pid}-${++n}`,
        ...options,
      });
      return { workspaceId: workspace.id, key: key.key };
    },
    async newKey(workspaceId, scopes) {
      const creator = {
        keyId: 'test',
        workspaceId,
        anonIdLabel: 'anon_id',
        scopes: ['admin', 'root'],
      };
      return (await gateway.services.auth.createApiKey(creator, 'test', scopes)).key;
    },
    async gql(key, query, variables) {
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as Omit<GraphQLResponse, 'status'>;
      return { status: res.status, ...body } as GraphQLResponse<any>;
    },
    async close() {
      await gateway.stop();
      await database.close();
    },
  };
}

/** The `extensions.code` of each error, for short assertions. */
export function codes(response: GraphQLResponse): string[] {
  return (response.errors ?? []).map((e) => String(e.extensions?.['code']));
}
