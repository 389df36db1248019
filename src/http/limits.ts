/**
 * Limits on what one request may ask for: the depth of its selections, an estimate of the objects
 * it may return (graphql-query-complexity, with the field costs of lib/query-cost.ts), and a
 * per-key budget of requests per minute.
 */
import {
  getNamedType,
  getNullableType,
  getOperationAST,
  GraphQLError,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type ArgumentNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
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
  const operation = getOperationAST(document, operationName);
  if (!operation) return { depth: 0, cost: null };
  const shape = shapeOf(schema, document, operation);
  // Nothing that multiplies (no list, no page): each selection counts once, as the estimate
  // would count it, without coercing the variables again (a trackUsers input is large).
  if (!shape.multiplies && shape.fields <= MAX_COUNTED_NODES) {
    return { depth: shape.depth, cost: shape.fields };
  }
  // A cost that no variable can change is the document's: Apollo hands the same parsed document
  // to every request with the same text, so it is counted once.
  const cacheKey = shape.variableFree
    ? `${operationName ?? ''}\u0001${context.maxIdsPerProfile}`
    : null;
  const cached = cacheKey === null ? undefined : costOfDocument.get(document)?.get(cacheKey);
  if (cached !== undefined) return { depth: shape.depth, cost: cached };
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
    if (cacheKey !== null) {
      const byKey = costOfDocument.get(document) ?? new Map<string, number>();
      byKey.set(cacheKey, cost);
      costOfDocument.set(document, byKey);
    }
    return { depth: shape.depth, cost };
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    // More selections than the estimate counts (fragments spread inside each other): too costly.
    // Any other error is the variables' (they do not fit the operation): execution refuses them.
    return { depth: shape.depth, cost: TOO_MANY_NODES.test(error.message) ? Infinity : null };
  }
}

/** Costs of parsed documents whose cost no variable changes, by operation name and context. */
const costOfDocument = new WeakMap<DocumentNode, Map<string, number>>();

function usesVariable(argument: ArgumentNode): boolean {
  return argument.value.kind === Kind.VARIABLE;
}

/** The error graphql-query-complexity raises when it stops at `maxQueryNodes`. */
const TOO_MANY_NODES = /maximum allowed number of nodes/;

interface Shape {
  /** How deeply the selections nest. */
  readonly depth: number;
  /** Field selections, each fragment counted where it is spread. */
  readonly fields: number;
  /** Whether any selection is a list or has a cost of its own (or is unknown here, like introspection's). */
  readonly multiplies: boolean;
  /** Whether no variable can change the cost: none is a page size or a directive's condition. */
  readonly variableFree: boolean;
}

/**
 * The operation's shape, worked out once per parsed document: Apollo hands the same document to
 * every request with the same text, and the shape depends on nothing else.
 */
function shapeOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): Shape {
  let bySchema = shapes.get(operation);
  if (!bySchema) shapes.set(operation, (bySchema = new WeakMap()));
  let shape = bySchema.get(schema);
  if (!shape) bySchema.set(schema, (shape = operationShape(schema, document, operation)));
  return shape;
}

const shapes = new WeakMap<OperationDefinitionNode, WeakMap<GraphQLSchema, Shape>>();

/**
 * The operation's depth and selections, fragments counted where they are spread. Each fragment
 * is walked once and its shape reused wherever it is spread, so fragments spread inside each
 * other cost their number, not the number of their expansions.
 */
function operationShape(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): Shape {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions)
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const known = new Map<string, Shape>();
  const walking = new Set<string>();
  const ofSet = (set: SelectionSetNode, parent: GraphQLNamedType | undefined): Shape => {
    let depth = 0;
    let fields = 0;
    let multiplies = false;
    let variableFree = true;
    const add = (inner: Shape, levels: number) => {
      depth = Math.max(depth, levels + inner.depth);
      fields += inner.fields;
      multiplies ||= inner.multiplies;
      variableFree &&= inner.variableFree;
    };
    for (const selection of set.selections) {
      if (selection.directives?.some((d) => d.arguments?.some(usesVariable))) variableFree = false;
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || walking.has(name)) continue;
        let shape = known.get(name);
        if (!shape) {
          walking.add(name);
          shape = ofSet(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
          walking.delete(name);
          known.set(name, shape);
        }
        add(shape, 0);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition
          ? schema.getType(selection.typeCondition.name.value)
          : parent;
        add(ofSet(selection.selectionSet, type), 0);
      } else {
        const field =
          isObjectType(parent) || isInterfaceType(parent)
            ? parent.getFields()[selection.name.value]
            : undefined;
        fields += 1;
        depth = Math.max(depth, 1);
        if (selection.arguments?.some((a) => a.name.value === 'first' && usesVariable(a))) {
          variableFree = false;
        }
        // A list, or a field with a cost of its own (a page), is for the estimate to count.
        if (!field) {
          if (selection.name.value !== '__typename') multiplies = true;
        } else if (
          isListType(getNullableType(field.type)) ||
          field.extensions['complexity'] !== undefined
        ) {
          multiplies = true;
        }
        if (selection.selectionSet) {
          add(ofSet(selection.selectionSet, field ? getNamedType(field.type) : undefined), 1);
        }
      }
    }
    return { depth, fields, multiplies, variableFree };
  };
  return ofSet(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined);
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
