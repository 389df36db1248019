/**
 * GraphQL subscriptions: a person's profile after each committed change, and the merges of the
 * caller's workspace as they are recorded. Each event is read from the database when it
 * arrives, with fresh loaders, under the subscriber's key: what it shows is what a query would
 * show at that moment.
 */
import 'reflect-metadata';
import { Arg, Authorized, Resolver, Root, Subscription } from 'type-graphql';

import { createLoaders, type GatewayContext, type Loaders } from '../../http/context.js';
import { ProfileLookup } from '../../identity/graphql/lookup.input.js';
import { Merge } from '../../identity/graphql/identify.type.js';
import { Profile } from '../../identity/graphql/profile.type.js';
import { lookupProblems, type ProfileRow } from '../../identity/profile-query-service.js';
import type { MergeRow } from '../../identity/store/merge-repository.js';
import { AppError, badInput } from '../../lib/app-error.js';
import type { ChangeNotice } from '../changes.js';
import { BoundedQueue } from '../queue.js';

/** What a subscription's context carries beyond a request's: how many events may wait. */
export interface LiveContext extends GatewayContext {
  readonly queueLimit: number;
  /** Told when a subscription is dropped for falling behind. */
  readonly onSlowConsumer: () => void;
}

/**
 * Notices of the caller's workspace committed from the moment this resolves; `end` stops
 * listening and ends the iteration (a consumer waiting for the next notice is let go at once).
 */
async function openNotices(
  ctx: LiveContext,
): Promise<{ notices: AsyncIterable<ChangeNotice>; end: () => void }> {
  const queue = new BoundedQueue<ChangeNotice>(ctx.queueLimit, () => {
    ctx.onSlowConsumer();
    return new AppError(
      'RATE_LIMITED',
      `this subscription fell more than ${ctx.queueLimit} events behind and was ended; subscribe again`,
      { reason: 'SLOW_CONSUMER' },
    );
  });
  const stop = await ctx.services.live.subscribe(ctx.scope.workspaceId, (n) => queue.push(n));
  return {
    notices: queue,
    end: () => {
      stop();
      queue.end();
    },
  };
}

/**
 * `source` with a `return` that ends its notices first: an async generator waiting for the next
 * notice would otherwise hold a client's unsubscribe (or its closed socket) until one came.
 */
function endable<T>(source: AsyncGenerator<T>, end: () => void): AsyncIterableIterator<T> {
  return {
    next: () => source.next(),
    return: (value?: unknown) => {
      end();
      return source.return(value);
    },
    throw: (error?: unknown) => {
      end();
      return source.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** A new set of loaders for the event about to be resolved (no cache from an earlier one). */
function renewLoaders(ctx: LiveContext): void {
  (ctx as { loaders: Loaders }).loaders = createLoaders(ctx.services, ctx.scope.workspaceId);
}

async function profileChanges(
  ctx: LiveContext,
  by: ProfileLookup,
): Promise<AsyncIterableIterator<ProfileRow>> {
  const problems = lookupProblems(by, 'by');
  if (problems.length > 0) throw badInput(problems);
  // Listening before the lookup: a change committed in between is not missed.
  const { notices, end } = await openNotices(ctx);
  const found = await ctx.services.profiles.findProfile(ctx.scope, by).catch((error: unknown) => {
    end();
    throw error;
  });
  if (!found) {
    end();
    throw new AppError('NOT_FOUND', 'no profile matches this lookup');
  }
  async function* changes(): AsyncGenerator<ProfileRow> {
    let id = found!.id;
    try {
      for await (const notice of notices) {
        if (notice.forgotten.includes(id)) return;
        let changed = notice.profiles.includes(id);
        for (const m of notice.merges) {
          if (m.absorbedId === id) {
            id = m.survivorId;
            changed = true;
          }
        }
        if (!changed) continue;
        const profile = await ctx.services.profiles.findProfile(ctx.scope, { id });
        // Gone meanwhile (forgotten): the notice that says so ends the stream.
        if (!profile) continue;
        id = profile.id;
        renewLoaders(ctx);
        yield profile;
      }
    } finally {
      end();
    }
  }
  return endable(changes(), end);
}

async function mergeRecords(ctx: LiveContext): Promise<AsyncIterableIterator<MergeRow>> {
  const { notices, end } = await openNotices(ctx);
  async function* records(): AsyncGenerator<MergeRow> {
    try {
      for await (const notice of notices) {
        if (notice.merges.length === 0) continue;
        renewLoaders(ctx);
        const rows = await Promise.all(notice.merges.map((m) => ctx.loaders.merge.load(m.id)));
        for (const row of rows) {
          // A merge undone or forgotten before it was read is not shown.
          if (row) yield row;
        }
      }
    } finally {
      end();
    }
  }
  return endable(records(), end);
}

@Resolver()
export class LiveResolver {
  @Authorized('profiles:read')
  @Subscription(() => Profile, {
    description:
      'The profile found by `by`, sent after each committed change to that person: tracked, aliased, identified, merged (then the survivor is sent, and followed from there on), undone. When the person is forgotten the stream completes. Starts with the next change, not with the current state (read it with `profile(by:)`). Unknown person: NOT_FOUND.',
    subscribe: ({ args, context }) =>
      profileChanges(context as LiveContext, (args as { by: ProfileLookup }).by),
  })
  profileChanged(
    @Root() profile: ProfileRow,
    @Arg('by', () => ProfileLookup, {
      description: 'Exactly one key of the person to follow, e.g. `{ externalId: "user-123" }`.',
    })
    _by: ProfileLookup,
  ): ProfileRow {
    return profile;
  }

  @Authorized('profiles:read')
  @Subscription(() => Merge, {
    description:
      "Every merge recorded in the caller's workspace from now on, once its identifyUsers call has committed.",
    subscribe: ({ context }) => mergeRecords(context as LiveContext),
  })
  mergeRecorded(@Root() merge: MergeRow): MergeRow {
    return merge;
  }
}
