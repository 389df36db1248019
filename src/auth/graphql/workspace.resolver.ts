/** createWorkspace (root), createApiKey and revokeApiKey (admin), and the caller's workspace. */
import 'reflect-metadata';
import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';

import type { GatewayContext } from '../../http/context.js';
import type { ApiKeyRow, WorkspaceRow } from '../auth-repository.js';
import type { CreatedKey } from '../auth-service.js';
import { CreateApiKeyInput, CreateWorkspaceInput } from './workspace.input.js';
import { ApiKey, CreatedApiKey, CreatedWorkspace, Workspace } from './workspace.type.js';

function toWorkspace(row: WorkspaceRow): Workspace {
  return {
    id: row.id,
    name: row.name,
    anonIdLabel: row.anonIdLabel,
    mixpanelConfigured: row.mixpanel !== null,
    brazeConfigured: row.braze !== null,
    createdAt: row.createdAt,
  };
}

function toApiKey(row: ApiKeyRow): ApiKey {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  };
}

const toCreated = (created: CreatedKey): CreatedApiKey => ({
  apiKey: toApiKey(created.row),
  key: created.key,
});

@Resolver()
export class WorkspaceResolver {
  @Authorized('profiles:read')
  @Query(() => Workspace, {
    description: "The calling key's workspace. Requires the scope `profiles:read`.",
  })
  async workspace(@Ctx() ctx: GatewayContext): Promise<Workspace> {
    const row = await ctx.services.auth.findWorkspace(ctx.scope.workspaceId);
    if (!row) throw new Error('the workspace of an authenticated key is missing');
    return toWorkspace(row);
  }

  @Authorized('root')
  @Mutation(() => CreatedWorkspace, {
    description:
      'Creates a workspace with its vendor settings and its first key (scope `admin`, returned once). Requires the scope `root`; invalid input is BAD_USER_INPUT and creates nothing.',
  })
  async createWorkspace(
    @Arg('input', () => CreateWorkspaceInput, {
      description: "The workspace's name, anonymous-id label and vendor settings.",
    })
    input: CreateWorkspaceInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<CreatedWorkspace> {
    const { workspace, key } = await ctx.services.auth.createWorkspace(input);
    return { workspace: toWorkspace(workspace), apiKey: toCreated(key) };
  }

  @Authorized('admin')
  @Mutation(() => CreatedApiKey, {
    description:
      "Creates a key in the caller's workspace; the key is returned once. Requires the scope `admin`; granting a scope the calling key lacks is FORBIDDEN and creates nothing.",
  })
  async createApiKey(
    @Arg('input', () => CreateApiKeyInput, { description: "The new key's name and scopes." })
    input: CreateApiKeyInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<CreatedApiKey> {
    return toCreated(await ctx.services.auth.createApiKey(ctx.principal, input.name, input.scopes));
  }

  @Authorized('admin')
  @Mutation(() => ApiKey, {
    description:
      "Revokes a key of the caller's workspace, the calling key included, for good: it is refused (UNAUTHENTICATED) from its next request, and by other gateway processes within the key cache time (2 seconds by default). Requires the scope `admin`; revoking twice keeps the first revokedAt.",
  })
  async revokeApiKey(
    @Arg('id', () => ID, {
      description:
        'The key id (ApiKey.id, a UUID, as createApiKey returned it). An id of no key of this workspace is NOT_FOUND; one that is not a UUID is BAD_USER_INPUT.',
    })
    id: string,
    @Ctx() ctx: GatewayContext,
  ): Promise<ApiKey> {
    return toApiKey(await ctx.services.auth.revokeApiKey(ctx.principal, id));
  }
}
