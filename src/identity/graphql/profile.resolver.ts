/** Queries of the identity graph and the fields of a profile that come from other tables. */
import 'reflect-metadata';
import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';

import type { GatewayContext } from '../../http/context.js';
import type { AliasRow, ProfileRow } from '../profile-query-service.js';
import { AfterArg, connectionType, FirstArg } from './connection.type.js';
import { ProfileLookup } from './lookup.input.js';
import { profileChildWants, selectedFields } from './selection.js';
import {
  AppSummary,
  EventSummary,
  Profile,
  PurchaseSummary,
  PushToken,
  UserAlias,
} from './profile.type.js';
import { page, perProfile } from '../../lib/query-cost.js';

const profileConnection = connectionType(Profile, 'Profile');
const userAliasConnection = connectionType(UserAlias, 'UserAlias');
const MAX_INT = 2_147_483_647;

export const ProfileConnectionResolver = profileConnection.ConnectionResolver;
export const UserAliasConnectionResolver = userAliasConnection.ConnectionResolver;

@Resolver()
export class ProfileQueryResolver {
  @Authorized('profiles:read')
  @Query(() => Profile, {
    nullable: true,
    description:
      "One live profile, found by exactly one key, or null when none matches; an absorbed profile's id returns the profile it was merged into. Needs the profiles:read scope.",
  })
  async profile(
    @Arg('by', () => ProfileLookup, {
      description: 'The key to look for, e.g. { externalId: "user-42" }.',
    })
    by: ProfileLookup,
    @Ctx() ctx: GatewayContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<ProfileRow | null> {
    // The profile and the children its selection will ask for, in one statement.
    const profiles = ctx.services.profiles;
    const found = await profiles.findProfileWith(ctx.scope, by, profileChildWants(info));
    if (!found) return null;
    profiles.primeLoaders(ctx.loaders, found);
    return found.profile;
  }

  @Authorized('profiles:read')
  @Query(() => profileConnection.Connection, {
    description:
      'Live profiles (not absorbed into another), oldest first. Needs the profiles:read scope.',
    complexity: page,
  })
  profiles(
    @FirstArg('profiles')
    first: number,
    @AfterArg()
    after: string | null,
    @Arg('identified', () => Boolean, {
      nullable: true,
      description:
        'true: only profiles with an external id; false: only those without; omitted: both.',
    })
    identified: boolean | null,
    @Arg('email', () => String, {
      nullable: true,
      description:
        'Only profiles with this email, compared trimmed and lower-cased, e.g. "ada@example.com".',
    })
    email: string | null,
    @Ctx() ctx: GatewayContext,
  ) {
    return ctx.services.profiles.listProfiles(ctx.scope, { identified, email }, { first, after });
  }

  @Authorized('profiles:read')
  @Query(() => userAliasConnection.Connection, {
    description:
      "The workspace's aliases in (aliasLabel, aliasName) order, anonymous ids included. Needs the profiles:read scope.",
    complexity: page,
  })
  aliases(
    @FirstArg('aliases')
    first: number,
    @AfterArg()
    after: string | null,
    @Arg('aliasLabel', () => String, {
      nullable: true,
      description: 'Only aliases with exactly this label, e.g. "crm_id".',
    })
    aliasLabel: string | null,
    @Arg('aliasName', () => String, {
      nullable: true,
      description: 'Only aliases with exactly this name, e.g. "C-1001".',
    })
    aliasName: string | null,
    @Ctx() ctx: GatewayContext,
  ) {
    return ctx.services.profiles.listAliases(
      ctx.scope,
      { aliasLabel, aliasName },
      { first, after },
    );
  }
}

@Resolver(() => Profile)
export class ProfileFieldResolver {
  @FieldResolver(() => Boolean, { description: 'True once the profile has an external id.' })
  identified(@Root() profile: ProfileRow): boolean {
    return profile.externalId !== null;
  }

  @FieldResolver(() => [UserAlias], {
    description:
      'Every alias the profile holds, anonymous ids included, in (aliasLabel, aliasName) order.',
    complexity: perProfile,
  })
  aliases(@Root() profile: ProfileRow, @Ctx() ctx: GatewayContext): Promise<AliasRow[]> {
    return ctx.loaders.aliases.load(profile.id);
  }

  @FieldResolver(() => [String], {
    description:
      'The anonymous ids the profile holds (its aliases under the workspace\'s anon-id label), e.g. "$device:3f2c1a9e-7b4d-4e21-9c3a-5d6e7f809a1b".',
    complexity: perProfile,
  })
  async anonIds(@Root() profile: ProfileRow, @Ctx() ctx: GatewayContext): Promise<string[]> {
    const all = await ctx.loaders.aliases.load(profile.id);
    return all.filter((a) => a.aliasLabel === ctx.scope.anonIdLabel).map((a) => a.aliasName);
  }

  @FieldResolver(() => [EventSummary], {
    description: 'One summary per custom event name the profile sent, in name order.',
  })
  async events(
    @Root() profile: ProfileRow,
    @Ctx() ctx: GatewayContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<EventSummary[]> {
    const withDays = selectedFields(info).has('dailyCounts');
    const [events, days] = await Promise.all([
      ctx.loaders.events.load(profile.id),
      withDays ? ctx.loaders.dailyCounts.load(profile.id) : [],
    ]);
    return events.map((e) => ({
      name: e.name,
      count: e.count,
      firstAt: e.firstAt,
      lastAt: e.lastAt,
      dailyCounts: days
        .filter((d) => d.name === e.name)
        .map((d) => ({ day: d.day, count: d.count })),
    }));
  }

  @FieldResolver(() => PurchaseSummary, {
    description: "Totals of the profile's purchases; zero counts and null times before any.",
  })
  async purchases(
    @Root() profile: ProfileRow,
    @Ctx() ctx: GatewayContext,
  ): Promise<PurchaseSummary> {
    const row = await ctx.loaders.purchases.load(profile.id);
    if (!row) return { count: 0, totalCents: 0, totalCentsExact: '0', firstAt: null, lastAt: null };
    // GraphQL's Int is 32-bit: the exact total goes out as a string beside the saturated one.
    return {
      count: Math.min(row.count, MAX_INT),
      totalCents: Math.min(row.totalCents, MAX_INT),
      totalCentsExact: String(row.totalCents),
      firstAt: row.firstAt,
      lastAt: row.lastAt,
    };
  }

  @FieldResolver(() => [PushToken], {
    description: 'The push tokens registered to the profile, by appId, then token.',
  })
  pushTokens(@Root() profile: ProfileRow, @Ctx() ctx: GatewayContext): Promise<PushToken[]> {
    return ctx.loaders.pushTokens.load(profile.id);
  }

  @FieldResolver(() => [AppSummary], {
    description: 'Session totals per app, by appId; sessions sent without an app have appId null.',
  })
  async apps(@Root() profile: ProfileRow, @Ctx() ctx: GatewayContext): Promise<AppSummary[]> {
    const rows = await ctx.loaders.appSessions.load(profile.id);
    return rows.map((r) => ({
      ...r,
      appId: r.appId === '' ? null : r.appId,
      sessionCount: Math.min(r.sessionCount, MAX_INT),
      totalSeconds: Math.min(r.totalSeconds, MAX_INT),
    }));
  }
}

@Resolver(() => UserAlias)
export class UserAliasResolver {
  @FieldResolver(() => Profile, { description: 'The live profile holding the alias.' })
  async profile(@Root() alias: AliasRow, @Ctx() ctx: GatewayContext): Promise<ProfileRow> {
    const profile = await ctx.loaders.profile.load(alias.profileId);
    if (!profile) throw new Error(`alias points at a missing profile ${alias.profileId}`);
    return profile;
  }
}
