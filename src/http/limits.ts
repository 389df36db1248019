/**
 * Limits on what one request may ask for: the depth of its selections and an estimate of the
 * objects it may return (list fields multiply their children by `first`, or by a default), and a
 * per-key budget of requests per minute.
 */
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

/** Items a list field without `first` is assumed to return. */
const DEFAULT_LIST_SIZE = 10;

export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxCost: number;
}

export interface QueryMeasure {
  readonly depth: number;
  readonly cost: number;
}

export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>>,
): QueryMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const operation = document.definitions.find(
    (d) =>
      d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
  if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return { depth: 0, cost: 0 };
  const root = schema.getRootType(operation.operation);
  // A variable the request leaves out takes its definition's default.
  const defaults = new Map<string, unknown>();
  for (const v of operation.variableDefinitions ?? []) {
    if (v.defaultValue?.kind === Kind.INT)
      defaults.set(v.variable.name.value, v.defaultValue.value);
  }
  let depth = 0;
  let cost = 0;
  const walk = (
    set: SelectionSetNode,
    parent: GraphQLNamedType,
    multiplier: number,
    level: number,
    seen: Set<string>,
    /** Inside a connection: the page size its `edges` stand for (totalCount and pageInfo are one). */
    page = 1,
  ) => {
    depth = Math.max(depth, level);
    for (const selection of set.selections) {
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) continue;
        const type = schema.getType(fragment.typeCondition.name.value) ?? parent;
        walk(
          fragment.selectionSet,
          type,
          multiplier,
          level,
          new Set(seen).add(fragment.name.value),
          page,
        );
        continue;
      }
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition
          ? (schema.getType(selection.typeCondition.name.value) ?? parent)
          : parent;
        walk(selection.selectionSet, type, multiplier, level, seen, page);
        continue;
      }
      cost += multiplier;
      const field = isObjectType(parent) ? parent.getFields()[selection.name.value] : undefined;
      if (!field || !selection.selectionSet) continue;
      const firstArg = selection.arguments?.find((a) => a.name.value === 'first');
      let size = 1;
      let pageOfChildren = 1;
      const fieldDefault = Number(field.args.find((a) => a.name === 'first')?.defaultValue ?? 20);
      if (selection.name.value === 'edges') {
        size = page;
      } else if (firstArg) {
        const name = firstArg.value.kind === Kind.VARIABLE ? firstArg.value.name.value : null;
        const value =
          firstArg.value.kind === Kind.INT
            ? Number(firstArg.value.value)
            : name !== null
              ? Number(variables[name] ?? defaults.get(name) ?? fieldDefault)
              : fieldDefault;
        pageOfChildren = Number.isFinite(value) && value > 0 ? value : 1;
      } else if (field.args.some((a) => a.name === 'first')) {
        pageOfChildren = fieldDefault;
      } else if (isListType(getNullableType(field.type))) {
        size = DEFAULT_LIST_SIZE;
      }
      walk(
        selection.selectionSet,
        getNamedType(field.type),
        multiplier * size,
        level + 1,
        seen,
        pageOfChildren,
      );
    }
  };
  if (root) walk(operation.selectionSet, root, 1, 1, new Set());
  return { depth, cost };
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
  if (measure.cost > limits.maxCost) {
    throw new GraphQLError(
      `the query may return about ${measure.cost} objects; at most ${limits.maxCost} are allowed (ask for smaller pages)`,
      {
        extensions: {
          code: 'BAD_USER_INPUT',
          cost: measure.cost,
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
