import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';

import { undocumented } from '../../scripts/undocumented.js';

describe('undocumented', () => {
  it('names every kind of schema element that lacks a description, and nothing documented', () => {
    const schema = buildSchema(`
      "A thing." type Thing { "Its id." id: ID! name(
        "How to write it." format: String
        style: String): String size: Int }
      "Looks things up." type Query { "One thing." thing("Its id." id: ID!): Thing things: [Thing!]! }
      input Filter { "Only these." ids: [ID!] name: String }
      "Colours." enum Colour { "Red." RED BLUE }
      scalar Money
      "Blank descriptions count as none." type Blank { "  " x: Int }
    `);
    expect(undocumented(schema).sort()).toEqual(
      [
        'Thing.name',
        'Thing.name(style)',
        'Thing.size',
        'Query.things',
        'Filter',
        'Filter.name',
        'Colour.BLUE',
        'Money',
        'Blank.x',
      ].sort(),
    );
  });

  it('finds nothing to add in the gateway schema', async () => {
    const { buildGatewaySchema } = await import('../../src/http/build-schema.js');
    expect(undocumented(buildGatewaySchema())).toEqual([]);
  });
});
