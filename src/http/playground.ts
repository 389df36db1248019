/**
 * The offline playground: GraphiQL 3 with React 18, served from the installed packages by the
 * gateway itself, so it works on a machine with no network (Apollo's own pages load from a CDN).
 * The page needs no key; the user puts theirs in the Headers tab, and every query sends it.
 * Subscriptions run over WebSocket (graphql-ws's browser build), with the same key sent as the
 * connection's `authorization`.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

import type { ApolloServerPlugin } from '@apollo/server';

const require = createRequire(import.meta.url);
const dirOf = (pkg: string) => path.dirname(require.resolve(`${pkg}/package.json`));

/** Files under /playground/, from the packages that ship them (not in their exports maps). */
const ASSETS: Record<string, { file: () => string; type: string }> = {
  'react.js': {
    file: () => path.join(dirOf('react'), 'umd', 'react.production.min.js'),
    type: 'text/javascript',
  },
  'react-dom.js': {
    file: () => path.join(dirOf('react-dom'), 'umd', 'react-dom.production.min.js'),
    type: 'text/javascript',
  },
  'graphiql.js': {
    file: () => path.join(dirOf('graphiql'), 'graphiql.min.js'),
    type: 'text/javascript',
  },
  'graphql-ws.js': {
    file: () => path.join(dirOf('graphql-ws'), 'umd', 'graphql-ws.min.js'),
    type: 'text/javascript',
  },
  'graphiql.css': {
    file: () => path.join(dirOf('graphiql'), 'graphiql.min.css'),
    type: 'text/css',
  },
};

const cache = new Map<string, Buffer>();

export async function playgroundAsset(
  name: string,
): Promise<{ body: Buffer; type: string } | null> {
  const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (!asset) return null;
  let body = cache.get(name);
  if (!body) {
    body = await readFile(asset.file());
    cache.set(name, body);
  }
  return { body, type: asset.type };
}

const DEFAULT_QUERY = `# Welcome. The Docs pane (top left) documents every type and field.
# To run an operation, paste your API key after "Bearer " in the Headers tab below
# (keys look like igw_...; the first start prints one), then run:
query FindProfile {
  profile(by: { externalId: "user-42" }) {
    id
    externalId
    anonIds
    events { name count }
  }
}
`;

export function playgroundHtml(): string {
  const config = JSON.stringify({
    defaultQuery: DEFAULT_QUERY,
    // No key yet: the schema loads without one, data needs one.
    defaultHeaders: JSON.stringify({ Authorization: 'Bearer ' }, null, 2),
  }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>identity-gateway playground</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link rel="stylesheet" href="/playground/graphiql.css">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
  <div id="graphiql">Loading the playground…</div>
  <script src="/playground/react.js"></script>
  <script src="/playground/react-dom.js"></script>
  <script src="/playground/graphiql.js"></script>
  <script src="/playground/graphql-ws.js"></script>
  <script>
    const config = ${config};
    const url = new URL('/graphql', location.href);
    // JSON POSTs pass Apollo's CSRF prevention; the headers of the Headers tab are added to each.
    const overHttp = GraphiQL.createFetcher({ url: url.toString() });
    // Subscriptions go over a socket whose connectionParams carry the Headers tab's key: one
    // socket per key, opened when first needed.
    let socket = null;
    let socketKey = null;
    const socketFor = (authorization) => {
      if (socketKey !== authorization) {
        socket?.dispose();
        socket = graphqlWs.createClient({
          url: url.toString().replace(/^http/, 'ws'),
          connectionParams: { authorization },
        });
        socketKey = authorization;
      }
      return socket;
    };
    const isSubscription = (params, options) =>
      options?.documentAST?.definitions.some(
        (d) =>
          d.kind === 'OperationDefinition' &&
          d.operation === 'subscription' &&
          (!params.operationName || d.name?.value === params.operationName),
      );
    const fetcher = (params, options) => {
      if (!isSubscription(params, options)) return overHttp(params, options);
      const headers = options?.headers ?? {};
      const authorization = headers.Authorization ?? headers.authorization ?? '';
      return socketFor(authorization).iterate(params);
    };
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultQuery: config.defaultQuery,
        defaultHeaders: config.defaultHeaders,
        defaultEditorToolsVisibility: 'headers',
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
      }),
    );
  </script>
</body>
</html>
`;
}

/** Serves the page where Apollo would serve its landing page (GET /graphql from a browser). */
export function playgroundPlugin(): ApolloServerPlugin {
  const html = playgroundHtml();
  return {
    serverWillStart: () => Promise.resolve({ renderLandingPage: () => Promise.resolve({ html }) }),
  };
}
