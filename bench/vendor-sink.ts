/**
 * A vendor stand-in for benchmarks, in a process of its own: answers Braze and Mixpanel requests
 * at once with success, and checks what it receives. Every anon id is counted; an anon id seen
 * twice is a duplicate, and for backlog anon ids (which encode profile and position, see
 * test/helpers/outbox-backlog.ts) an earlier position arriving after a later one of the same
 * profile is an order violation. Prints `{"port":N}` once listening; GET /stats reports, and
 * GET /seen?anonId=... tells when other anon ids first arrived.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

type Vendor = 'braze' | 'mixpanel';

const stats = {
  requests: { braze: 0, mixpanel: 0 },
  delivered: { braze: 0, mixpanel: 0 },
  duplicates: 0,
  orderViolations: 0,
};
const seen = { braze: new Set<string>(), mixpanel: new Set<string>() };
const lastPosition = { braze: new Map<string, number>(), mixpanel: new Map<string, number>() };
/** When each anon id that is not a backlog one was first received (ms since the epoch). */
const firstSeen = new Map<string, number>();
const BACKLOG = /^([0-9a-f]{8})-([0-9a-f]{4})-4000-8000-([0-9a-f]{4})/;

function record(vendor: Vendor, anonId: string): void {
  stats.delivered[vendor]++;
  if (seen[vendor].has(anonId)) {
    stats.duplicates++;
    return;
  }
  seen[vendor].add(anonId);
  const m = BACKLOG.exec(anonId);
  if (!m) {
    firstSeen.set(`${vendor}:${anonId}`, Date.now());
    return;
  }
  const queue = `${m[3]}:${m[1]}`;
  const position = parseInt(m[2], 16);
  const last = lastPosition[vendor].get(queue) ?? 0;
  if (position < last) stats.orderViolations++;
  else lastPosition[vendor].set(queue, position);
}

function anonIdsOf(path: string, body: string): [Vendor, string[]] {
  if (path === '/users/identify' || path === '/users/merge') {
    const json = JSON.parse(body) as {
      aliases_to_identify?: { user_alias: { alias_name: string } }[];
      merge_updates?: { identifier_to_merge: { user_alias: { alias_name: string } } }[];
    };
    const aliases = (json.aliases_to_identify ?? []).map((a) => a.user_alias.alias_name);
    const merges = (json.merge_updates ?? []).map(
      (m) => m.identifier_to_merge.user_alias.alias_name,
    );
    return ['braze', [...aliases, ...merges]];
  }
  const data = path === '/track' ? (new URLSearchParams(body).get('data') ?? '[]') : body;
  const events = JSON.parse(data) as { properties: Record<string, unknown> }[];
  return [
    'mixpanel',
    events.map((e) => String(e.properties['$anon_id'] ?? e.properties['$device_id'])),
  ];
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const path = new URL(req.url ?? '/', 'http://sink').pathname;
    if (req.method === 'GET' && path === '/seen') {
      const ids = new URL(req.url ?? '/', 'http://sink').searchParams.getAll('anonId');
      res.writeHead(200, { 'content-type': 'application/json' });
      const at = (vendor: Vendor, id: string) => firstSeen.get(`${vendor}:${id}`) ?? null;
      res.end(
        JSON.stringify(ids.map((id) => ({ braze: at('braze', id), mixpanel: at('mixpanel', id) }))),
      );
      return;
    }
    if (req.method === 'GET' && path === '/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    const [vendor, anonIds] = anonIdsOf(path, Buffer.concat(chunks).toString('utf8'));
    stats.requests[vendor]++;
    for (const anonId of anonIds) record(vendor, anonId);
    res.writeHead(vendor === 'braze' ? 201 : 200, { 'content-type': 'application/json' });
    res.end(vendor === 'braze' ? '{"message":"success"}' : '{"status":1,"error":null}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
