/**
 * Whether a request only asks about the schema: every operation of its document selects nothing
 * but `__schema`, `__type` and `__typename` at its root (through fragments too). Where the
 * playground is on, such a request needs no key, so that its Docs pane and autocompletion work
 * before one is entered; it reads no data (introspection stays governed by INTROSPECTION).
 */
import {
  Kind,
  OperationTypeNode,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

const SCHEMA_FIELDS = new Set(['__schema', '__type', '__typename']);

export function asksOnlyForSchema(body: unknown, maxTokens: number): boolean {
  const query = (body as { query?: unknown } | null)?.query;
  if (typeof query !== 'string') return false;
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens });
  } catch {
    return false;
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  }
  const seen = new Set<string>();
  const onlySchema = (set: SelectionSetNode): boolean =>
    set.selections.every((s) => {
      if (s.kind === Kind.FIELD) return SCHEMA_FIELDS.has(s.name.value);
      if (s.kind === Kind.INLINE_FRAGMENT) return onlySchema(s.selectionSet);
      const fragment = fragments.get(s.name.value);
      if (!fragment) return false;
      if (seen.has(fragment.name.value)) return true;
      seen.add(fragment.name.value);
      return onlySchema(fragment.selectionSet);
    });
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  return (
    operations.length > 0 &&
    operations.every((o) => o.operation === OperationTypeNode.QUERY && onlySchema(o.selectionSet))
  );
}
