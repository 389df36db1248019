/** Builds the GraphQL schema from the resolvers, with the contract's scalars and scope checks. */
import 'reflect-metadata';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import {
  assertValidSchema,
  isInterfaceType,
  isObjectType,
  lexicographicSortSchema,
  parse,
  printSchema,
  type GraphQLSchema,
} from 'graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { buildSchemaSync, createResolversMap, type AuthChecker, type PubSub } from 'type-graphql';

import { WorkspaceResolver } from '../auth/graphql/workspace.resolver.js';
import { isScope, requireScope } from '../auth/scopes.js';
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
import { resolveProfileReference } from '../identity/graphql/entities.js';
import { TrackResolver } from '../identity/graphql/track.resolver.js';
import { LiveResolver } from '../live/graphql/live.resolver.js';
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
    requireScope(context.principal.scopes, scope);
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
let served: GraphQLSchema | null = null;

/**
 * The schema the gateway serves: the contract's types, as an Apollo Federation 2 subgraph
 * (`Profile` an entity keyed by `id` and by `externalId`, with `_service` and `_entities`).
 */
export function buildGatewaySchema(): GraphQLSchema {
  served ??= toSubgraph(buildContractSchema());
  return served;
}

/** The schema of the contract, as type-graphql builds it from the resolvers. */
export function buildContractSchema(): GraphQLSchema {
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
    // type-graphql would check the schema by running the whole introspection query on it (a
    // tenth of the start); graphql-js's own validation below finds the same errors.
    skipCheck: true,
  });
  assertValidSchema(cached);
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
  return printSchema(lexicographicSortSchema(buildContractSchema())) + '\n';
}

/** The resolver map buildSubgraphSchema takes (its type is not exported by name). */
type SubgraphResolvers = Extract<
  Parameters<typeof buildSubgraphSchema>[0],
  { resolvers?: unknown }
>['resolvers'];

const FEDERATION_LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable"])';

/**
 * The contract's schema made a subgraph with @apollo/subgraph: its SDL (with the `@key`
 * directives of type-graphql's `@Directive`) and type-graphql's own resolvers, plus the
 * reference resolver of `Profile`. SDL carries no field extensions, so each field's declared
 * cost (`complexity`) is copied over for the query cost limit.
 */
function toSubgraph(contract: GraphQLSchema): GraphQLSchema {
  const resolvers = createResolversMap(contract) as Record<string, Record<string, unknown>>;
  resolvers['Profile'] = {
    ...resolvers['Profile'],
    __resolveReference: (reference: Record<string, unknown>, context: GatewayContext) =>
      resolveProfileReference(reference, context),
  };
  const schema = buildSubgraphSchema({
    typeDefs: parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(contract)}`),
    resolvers: resolvers as SubgraphResolvers,
  });
  for (const type of Object.values(contract.getTypeMap())) {
    const twin = schema.getType(type.name);
    if (!(isObjectType(type) || isInterfaceType(type))) continue;
    if (!(isObjectType(twin) || isInterfaceType(twin))) continue;
    const fields = twin.getFields();
    for (const [name, field] of Object.entries(type.getFields())) {
      if (fields[name]) fields[name].extensions = field.extensions;
    }
  }
  describeFederation(schema);
  return schema;
}

/** What federation adds, described for the playground's Docs pane like the rest. */
function describeFederation(schema: GraphQLSchema): void {
  const query = schema.getQueryType()!.getFields();
  const set = (target: { description?: string | null } | undefined, text: string) => {
    if (target) target.description = text;
  };
  set(
    query['_service'],
    "Apollo Federation: this subgraph's SDL, for composing the gateway into a supergraph.",
  );
  set(
    query['_entities'],
    "Apollo Federation: the entities named by `representations`, for the router. Profiles are resolved in the caller's workspace with its key (scope `profiles:read`); one that is unknown or in another workspace is null.",
  );
  set(
    query['_entities']?.args.find((a) => a.name === 'representations'),
    'Entity references, e.g. `{ __typename: "Profile", externalId: "user-42" }` or `{ __typename: "Profile", id: "01a2082e-..." }`.',
  );
  set(schema.getType('_Service') ?? undefined, 'Apollo Federation: the subgraph itself.');
  const sdl = schema.getType('_Service');
  if (isObjectType(sdl))
    set(sdl.getFields()['sdl'], "The subgraph's schema, with its `@key` directives.");
  set(
    schema.getType('_Any') ?? undefined,
    'Apollo Federation: an entity reference, `{ __typename, ...key fields }`.',
  );
  set(
    schema.getType('_Entity') ?? undefined,
    'Apollo Federation: the types other subgraphs can reference: Profile.',
  );
}
