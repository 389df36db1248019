/**
 * Apollo's ceiling: the smallest @apollo/server 5 service, `type Query { hello: String }` on
 * startStandaloneServer. Whatever the gateway adds per request is measured against this. Prints
 * `{"url": ...}` once it listens (on PORT, 0 by default).
 */
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

const server = new ApolloServer({
  typeDefs: 'type Query { hello: String }',
  resolvers: { Query: { hello: () => 'world' } },
});
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: Number(process.env['PORT'] ?? 0) },
});
process.stdout.write(JSON.stringify({ url }) + '\n');
