/**
 * Resolvers receive their arguments as the plain objects graphql-js coerced, not as instances of
 * the input classes (patches/type-graphql+2.0.0-rc.4.patch). That is only safe while no input
 * class gives its instances anything of their own: a method, an accessor or a default value
 * would silently be missing from what a resolver receives.
 */
import 'reflect-metadata';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { getMetadataStorage } from 'type-graphql';
import { describe, expect, it } from 'vitest';

import { buildGatewaySchema } from '../../src/http/build-schema.js';
import { TrackUsersInput } from '../../src/identity/graphql/track.input.js';

interface ArgMetadata {
  readonly name: string;
  readonly getType: () => unknown;
}
type ConvertArg = (arg: ArgMetadata, args: Record<string, unknown>) => unknown;

/** type-graphql's own module, by file: the package does not export it. */
async function convertArgToInstance(): Promise<ConvertArg> {
  const main = createRequire(import.meta.url).resolve('type-graphql'); // build/cjs/index.js
  const file = path.resolve(main, '..', '..', 'esm', 'resolvers', 'convert-args.js');
  const module = (await import(pathToFileURL(file).href)) as { convertArgToInstance: ConvertArg };
  return module.convertArgToInstance;
}

describe('input classes', () => {
  it('give their instances nothing a plain object lacks: no methods, accessors or defaults', () => {
    buildGatewaySchema();
    const inputTypes = getMetadataStorage().inputTypes;
    expect(inputTypes.length).toBeGreaterThan(10);
    const found: string[] = [];
    for (const { target } of inputTypes) {
      const name = (target as { name: string }).name;
      for (let proto = target.prototype as object; proto !== Object.prototype;) {
        for (const key of Object.getOwnPropertyNames(proto)) {
          if (key !== 'constructor') found.push(`${name}: ${key} on its prototype`);
        }
        proto = Object.getPrototypeOf(proto) as object;
      }
      const instance = new (target as new () => Record<string, unknown>)();
      for (const [key, value] of Object.entries(instance)) {
        if (value !== undefined) found.push(`${name}.${key} defaults to ${JSON.stringify(value)}`);
      }
    }
    expect(found).toEqual([]);
  });

  it('are not instantiated: a resolver receives the coerced value itself', async () => {
    const convert = await convertArgToInstance();
    const input = { events: [{ externalId: 'user-1', name: 'page_view' }] };
    const received = convert({ name: 'input', getType: () => TrackUsersInput }, { input });
    expect(received).toBe(input);
  });
});
