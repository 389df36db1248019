/** Relay-style connections: edges with opaque cursors, page info and a total count. */
import 'reflect-metadata';
import {
  Field,
  FieldResolver,
  Int,
  ObjectType,
  Resolver,
  Root,
  type ClassType,
} from 'type-graphql';
import { edges } from '../../lib/query-cost.js';

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage: boolean;

  @Field(() => String, { nullable: true })
  endCursor: string | null;
}

/** A page as services return it; the total is counted only when a client selects it. */
export interface PageShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  totalCount: () => Promise<number>;
}

export function connectionType<T extends object>(node: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field(() => String)
    cursor: string;

    @Field(() => node)
    node: T;
  }

  @ObjectType(`${name}Connection`)
  class Connection {
    @Field(() => [Edge], { complexity: edges })
    edges: Edge[];

    @Field(() => PageInfo)
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
