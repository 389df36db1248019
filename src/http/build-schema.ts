/** Builds the GraphQL schema from the resolvers, with the contract's scalars and scope checks. */
import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { buildSchemaSync, type AuthChecker } from 'type-graphql';

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
    ],
    scalarsMap: [{ type: Date, scalar: GraphQLDateTime }],
    authChecker: scopeChecker,
    validate: false,
  });
  return cached;
}

/** The SDL as committed in schema/schema.graphql: sorted, so the file is stable. */
export function printGatewaySchema(): string {
  return printSchema(lexicographicSortSchema(buildGatewaySchema())) + '\n';
}
