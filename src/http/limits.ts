/**
 * Limits on what one request may ask for: the depth of its selections, an estimate of the objects
 * it may return (graphql-query-complexity, with the field costs of lib/query-cost.ts), and a
 * per-key budget of requests per minute.
 */
import {
  getOperationAST,
  getVariableValues,
  GraphQLError,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { fieldExtensionsEstimator, getComplexity } from 'graphql-query-complexity';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

import { unsized, type CostContext } from '../lib/query-cost.js';

export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxCost: number;
}

export interface QueryMeasure {
  readonly depth: number;
  /**
   * null when the variables do not fit the operation (execution refuses them with its own
   * error); Infinity when the operation has more selections than the estimate counts.
   */
  readonly cost: number | null;
}

const ESTIMATORS = [fieldExtensionsEstimator(), unsized];

/** Selections the estimate visits at most, fragments expanded where they are spread. */
const MAX_COUNTED_NODES = 10_000;

export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>>,
  context: CostContext,
): QueryMeasure {
  const depth = operationDepth(document, operationName);
  const operation = getOperationAST(document, operationName);
  if (!operation) return { depth, cost: null };
  // Variables that do not fit are left to execution, which refuses them with its own error.
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
  if (coerced.errors?.length) return { depth, cost: null };
  try {
    const cost = getComplexity({
      schema,
      query: document,
      operationName: operationName ?? undefined,
      variables: { ...variables },
      estimators: ESTIMATORS,
      context: { ...context },
      maxQueryNodes: MAX_COUNTED_NODES,
    });
    return { depth, cost };
  } catch (error) {
    // More selections than the estimate counts (fragments spread inside each other): too costly.
    if (error instanceof GraphQLError) return { depth, cost: Number.POSITIVE_INFINITY };
    throw error;
  }
}

/** How deeply the operation's selections nest, fragments counted where they are spread. */
function operationDepth(document: DocumentNode, operationName: string | null | undefined): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const operation = document.definitions.find(
    (d) =>
      d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return 0;
  const depthOf = (set: SelectionSetNode, level: number, seen: ReadonlySet<string>): number => {
    let deepest = level;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        const inner = new Set(seen).add(fragment.name.value);
        deepest = Math.max(deepest, depthOf(fragment.selectionSet, level, inner));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet, level, seen));
      } else if (selection.selectionSet) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet, level + 1, seen));
      }
    }
    return deepest;
  };
  return depthOf(operation.selectionSet, 1, new Set());
}

export function checkQueryLimits(measure: QueryMeasure, limits: QueryLimits): void {
  if (measure.depth > limits.maxDepth) {
    throw new GraphQLError(
      `the query nests ${measure.depth} levels deep; at most ${limits.maxDepth} are allowed`,
      {
        extensions: {
          code: 'BAD_USER_INPUT',
          depth: measure.depth,
          maxDepth: limits.maxDepth,
          http: { status: 400 },
        },
      },
    );
  }
  if (measure.cost !== null && measure.cost > limits.maxCost) {
    const counted = Number.isFinite(measure.cost);
    throw new GraphQLError(
      counted
        ? `the query may return about ${measure.cost} objects; at most ${limits.maxCost} are allowed (ask for smaller pages)`
        : `the query has more than ${MAX_COUNTED_NODES} selections once its fragments are spread; its cost cannot be counted (at most ${limits.maxCost} objects are allowed)`,
      {
        extensions: {
          code: 'BAD_USER_INPUT',
          ...(counted ? { cost: measure.cost } : {}),
          maxCost: limits.maxCost,
          http: { status: 400 },
        },
      },
    );
  }
}

/**
 * Requests per key per minute, counted in this process (rate-limiter-flexible's memory store):
 * with N gateway processes behind a balancer a key may make up to N times the limit.
 */
export class KeyRateLimiter {
  private readonly limiter: RateLimiterMemory;

  constructor(private readonly perMinute: number) {
    this.limiter = new RateLimiterMemory({ points: perMinute, duration: 60, keyPrefix: 'api-key' });
  }

  async take(keyId: string): Promise<void> {
    try {
      await this.limiter.consume(keyId);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfter = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new GraphQLError(
        `this API key made more than ${this.perMinute} requests in a minute; retry in ${retryAfter} s`,
        {
          extensions: {
            code: 'RATE_LIMITED',
            retryAfterSeconds: retryAfter,
            http: { status: 429, headers: new Map([['retry-after', String(retryAfter)]]) },
          },
        },
      );
    }
  }
}
