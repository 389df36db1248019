/**
 * What a query selects below a field, read from the resolver's info (fragments included), so a
 * resolver can fetch in one statement what the fields below it will ask for.
 */
import { Kind, type FieldNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

import type { ChildWants } from '../profile-query-service.js';

/** The fields selected directly below `nodes`, by name, with their own nodes. */
export function selectedFields(
  info: GraphQLResolveInfo,
  nodes: readonly FieldNode[] = info.fieldNodes,
): Map<string, FieldNode[]> {
  const fields = new Map<string, FieldNode[]>();
  const visit = (set: SelectionSetNode | undefined, seen: Set<string>) => {
    for (const selection of set?.selections ?? []) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        fields.set(name, [...(fields.get(name) ?? []), selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet, seen);
      } else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        visit(info.fragments[selection.name.value]?.selectionSet, seen);
      }
    }
  };
  for (const node of nodes) visit(node.selectionSet, new Set());
  return fields;
}

/** The children of a Profile that the fields selected below it will load. */
export function profileChildWants(info: GraphQLResolveInfo): ChildWants {
  const fields = selectedFields(info);
  const events = fields.get('events');
  return {
    aliases: fields.has('aliases') || fields.has('anonIds'),
    events: events !== undefined,
    dailyCounts: events !== undefined && selectedFields(info, events).has('dailyCounts'),
    purchases: fields.has('purchases'),
    pushTokens: fields.has('pushTokens'),
    appSessions: fields.has('apps'),
  };
}
