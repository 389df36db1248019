/**
 * What each field of the schema costs in a request's cost estimate (graphql-query-complexity,
 * through type-graphql's `complexity` field option): every field counts 1 for each object it may
 * appear in, and a list multiplies what it contains by the most items it can hold. Lists with a
 * real limit are sized by it: a connection by its `first`, a profile's identifiers and merges by
 * MAX_IDS_PER_PROFILE, daily counts by their 30-day window, a change's deliveries by the number of
 * vendors. A list without a limit (a profile's events, apps, push tokens...) counts as
 * DEFAULT_LIST_SIZE items.
 */
import { getNullableType, isListType, Kind, type SelectionSetNode } from 'graphql';
import type { ComplexityEstimator, ComplexityEstimatorArgs } from 'graphql-query-complexity';

/** Items assumed of a list that has no limit of its own. */
export const DEFAULT_LIST_SIZE = 10;

/** What the estimate needs to know of the configuration (passed as the estimate's context). */
export interface CostContext {
  readonly maxIdsPerProfile: number;
}

/** A list of at most `size` items. */
export function listOf(size: number): ComplexityEstimator {
  return ({ childComplexity }) => 1 + size * childComplexity;
}

/**
 * A connection: `first` (or its default) multiplies its edges; `totalCount` and `pageInfo` count
 * once. The estimate gets the connection's children as one sum, so the part that is not edges is
 * counted from the selection (anything it cannot tell apart, like a fragment, counts as edges).
 */
export const page: ComplexityEstimator = ({ args, childComplexity, node }) => {
  const first = Number(args['first']);
  const size = Number.isFinite(first) && first > 0 ? first : 1;
  const once = Math.min(childComplexity, countedOnce(node.selectionSet));
  return 1 + once + size * (childComplexity - once);
};

/** The cost of a connection's fields other than its edges: each scalar 1, `pageInfo` 1 + its. */
function countedOnce(set: SelectionSetNode | undefined): number {
  let cost = 0;
  for (const selection of set?.selections ?? []) {
    if (selection.kind !== Kind.FIELD || selection.name.value === 'edges') continue;
    cost += 1 + (selection.selectionSet ? countedOnce(selection.selectionSet) : 0);
  }
  return cost;
}

/** A connection's edges: already counted `first` times by the connection. */
export const edges = listOf(1);

/** A profile's identifiers (or the merges that brought them): at most MAX_IDS_PER_PROFILE. */
export const perProfile: ComplexityEstimator = ({ childComplexity, context }) =>
  1 + Number((context as CostContext | undefined)?.maxIdsPerProfile ?? 1) * childComplexity;

/** Fields without a `complexity` of their own: 1, and lists DEFAULT_LIST_SIZE times their items. */
export const unsized: ComplexityEstimator = ({
  field,
  childComplexity,
}: ComplexityEstimatorArgs) =>
  isListType(getNullableType(field.type))
    ? 1 + DEFAULT_LIST_SIZE * childComplexity
    : 1 + childComplexity;
