/** Relay-style connections: edges with opaque cursors, page info and a total count. */
import 'reflect-metadata';
import {
  Arg,
  Directive,
  Field,
  FieldResolver,
  Int,
  ObjectType,
  Resolver,
  Root,
  type ClassType,
} from 'type-graphql';
import { edges } from '../../lib/query-cost.js';

// Shareable in a supergraph: other subgraphs with Relay connections define PageInfo too.
@Directive('@shareable')
@ObjectType({
  description:
    'Where a page lies in its list (Relay cursor connections). Read forward: pass `endCursor` as `after` while `hasNextPage` is true.',
})
export class PageInfo {
  @Field(() => Boolean, { description: 'True when more items follow this page.' })
  hasNextPage: boolean;

  @Field(() => Boolean, {
    description:
      'True when items come before this page, that is when it was read `after` a cursor.',
  })
  hasPreviousPage: boolean;

  @Field(() => String, {
    nullable: true,
    description: "The first edge's cursor; null for an empty page.",
  })
  startCursor: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The last edge's cursor, to pass as `after` for the next page; null for an empty page.",
  })
  endCursor: string | null;
}

/** A connection's `first` argument: how many `items` to return (0 to 100, 20 when omitted). */
export function FirstArg(items: string) {
  return Arg('first', () => Int, {
    nullable: true,
    defaultValue: 20,
    description: `How many ${items} to return, 0 to 100 (else BAD_USER_INPUT).`,
  });
}

/** A connection's `after` argument: the cursor the page starts after. */
export function AfterArg() {
  return Arg('after', () => String, {
    nullable: true,
    description:
      "Start after this cursor: a previous page's pageInfo.endCursor from this same list.",
  });
}

/** A page as services return it; the total is counted only when a client selects it. */
export interface PageShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  totalCount: () => Promise<number>;
}

export function connectionType<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`, { description: `One ${name} of a page, with its cursor.` })
  class Edge {
    @Field(() => String, {
      description: `Opaque position of this ${name} in the list: pass it as \`after\` to read the items that follow it.`,
    })
    cursor: string;

    @Field(() => node, { description: `The ${name} itself.` })
    node: T;
  }

  @ObjectType(`${name}Connection`, {
    description: `A page of ${name} items (Relay cursor connection): ask for \`first\` (0 to 100, 20 by default) items \`after\` a cursor.`,
  })
  class Connection {
    @Field(() => [Edge], {
      complexity: edges,
      description: 'The items of this page, in the order of the list.',
    })
    edges: Edge[];

    @Field(() => PageInfo, {
      description: 'Where this page lies: cursors and whether more follow.',
    })
    pageInfo: PageInfo;
  }

  @Resolver(() => Connection)
  class ConnectionResolver {
    @FieldResolver(() => Int, { description: 'All matching items, not only this page.' })
    totalCount(@Root() page: PageShape<T>): Promise<number> {
      return page.totalCount();
    }
  }

  return { Connection, ConnectionResolver };
}
