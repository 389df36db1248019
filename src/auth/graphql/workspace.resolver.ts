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
  @Query(() => Workspace, { description: "The calling key's workspace." })
  async workspace(@Ctx() ctx: GatewayContext): Promise<Workspace> {
    const row = await ctx.services.auth.findWorkspace(ctx.scope.workspaceId);
    if (!row) throw new Error('the workspace of an authenticated key is missing');
    return toWorkspace(row);
  }

  @Authorized('root')
  @Mutation(() => CreatedWorkspace, {
    description: 'A new workspace and its first admin key, shown once.',
  })
  async createWorkspace(
    @Arg('input', () => CreateWorkspaceInput) input: CreateWorkspaceInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<CreatedWorkspace> {
    const { workspace, key } = await ctx.services.auth.createWorkspace(input);
    return { workspace: toWorkspace(workspace), apiKey: toCreated(key) };
  }

  @Authorized('admin')
  @Mutation(() => CreatedApiKey, {
    description: "A new key in the caller's workspace, shown once.",
  })
  async createApiKey(
    @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput,
    @Ctx() ctx: GatewayContext,
  ): Promise<CreatedApiKey> {
    return toCreated(await ctx.services.auth.createApiKey(ctx.principal, input.name, input.scopes));
  }

  @Authorized('admin')
  @Mutation(() => ApiKey, {
    description: 'Revokes a key of the workspace; it stops working at once.',
  })
  async revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: GatewayContext): Promise<ApiKey> {
    return toApiKey(await ctx.services.auth.revokeApiKey(ctx.principal, id));
  }
}
