/** Builds the GraphQL schema from the resolvers, with the contract's scalars and scope checks. */
import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { buildSchemaSync, type AuthChecker, type PubSub } from 'type-graphql';

import { WorkspaceResolver } from '../auth/graphql/workspace.resolver.js';
import { hasScope, isScope } from '../auth/scopes.js';
import {
  ErasureConnectionResolver,
  ErasureFieldResolver,
  ErasureResolver,
} from '../erasure/graphql/erasure.resolver.js';
import {
  ProfileConnectionResolver,
  ProfileFieldResolver,
  ProfileQueryResolver,
  UserAliasConnectionResolver,
  UserAliasResolver,
} from '../identity/graphql/profile.resolver.js';
import {
  IdentifyResolver,
  IdentifyResultResolver,
  MergeConnectionResolver,
  MergeResolver,
  ProfileMergesResolver,
} from '../identity/graphql/identify.resolver.js';
import { TrackResolver } from '../identity/graphql/track.resolver.js';
import { LiveResolver } from '../live/graphql/live.resolver.js';
import { AppError } from '../lib/app-error.js';
import {
  DeliveryConnectionResolver,
  DeliveryFieldResolver,
  DeliveryResolver,
} from '../outbox/graphql/delivery.resolver.js';
import type { GatewayContext } from './context.js';

/** `@Authorized(scope)`: the caller's key must carry the scope (or `admin`). */
const scopeChecker: AuthChecker<GatewayContext> = ({ context }, scopes) => {
  for (const scope of scopes) {
    if (!isScope(scope)) throw new Error(`unknown scope in a resolver: ${scope}`);
    if (!hasScope(context.principal.scopes, scope)) {
      throw new AppError('FORBIDDEN', `this API key lacks the scope "${scope}"`);
    }
  }
  return true;
};

/**
 * type-graphql asks for a pub/sub as soon as a subscription exists. Every subscription here
 * brings its own `subscribe` (over PostgreSQL LISTEN/NOTIFY, see live/changes.ts); topics are
 * not used, and this one says so if a resolver ever tries.
 */
const NO_TOPICS: PubSub = {
  publish: () => {
    throw new Error('subscriptions use live/changes.ts, not type-graphql topics');
  },
  subscribe: () => {
    throw new Error('subscriptions use live/changes.ts, not type-graphql topics');
  },
};

let cached: GraphQLSchema | null = null;

export function buildGatewaySchema(): GraphQLSchema {
  cached ??= buildSchemaSync({
    resolvers: [
      ProfileQueryResolver,
      ProfileFieldResolver,
      ProfileConnectionResolver,
      UserAliasResolver,
      UserAliasConnectionResolver,
      TrackResolver,
      IdentifyResolver,
      IdentifyResultResolver,
      MergeResolver,
      MergeConnectionResolver,
      ProfileMergesResolver,
      DeliveryResolver,
      DeliveryConnectionResolver,
      DeliveryFieldResolver,
      ErasureResolver,
      ErasureConnectionResolver,
      ErasureFieldResolver,
      WorkspaceResolver,
      LiveResolver,
    ],
    scalarsMap: [{ type: Date, scalar: GraphQLDateTime }],
    authChecker: scopeChecker,
    validate: false,
    pubSub: NO_TOPICS,
  });
  describeRoots(cached);
  return cached;
}

/** type-graphql has no option for the root types' descriptions: set on the built schema. */
function describeRoots(schema: GraphQLSchema): void {
  const roots = [
    [
      schema.getQueryType(),
      "Reads of the caller's workspace: profiles, aliases, merges, deliveries, erasures and the workspace itself. Every operation needs an API key (`Authorization: Bearer igw_...`) with the scope each field names.",
    ],
    [
      schema.getMutationType(),
      "Writes to the caller's workspace: tracking, aliasing, identifying and undoing merges, forgetting people, replaying deliveries, and managing workspaces and keys. Each runs in one transaction: it applies whole or not at all.",
    ],
    [
      schema.getSubscriptionType(),
      'Live updates over WebSocket (graphql-ws protocol) on the same path, /graphql: send the key as `connectionParams: { authorization: "Bearer igw_..." }`. Events come only after their change has committed, from the caller\'s workspace only, whichever gateway process made the change.',
    ],
  ] as const;
  for (const [type, description] of roots) if (type) type.description = description;
}

/** The SDL as committed in schema/schema.graphql: sorted, so the file is stable. */
export function printGatewaySchema(): string {
  return printSchema(lexicographicSortSchema(buildGatewaySchema())) + '\n';
}
