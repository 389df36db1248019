/**
 * Prometheus metrics: GraphQL requests and latency by operation, identify outcomes, deliveries
 * by vendor and status, retries, and the outbox's depth and oldest age (read from the database
 * at each scrape, so every process reports the shared outbox).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { sql } from 'drizzle-orm';

import type { Db } from '../db/client.js';
import { rowsOf } from '../db/rows.js';
import type { DispatcherObserver } from '../outbox/dispatcher.js';

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'operation' | 'outcome'>;
  readonly latency: Histogram<'operation'>;
  readonly identifyOutcomes: Counter<'outcome'>;
  readonly deliveries: Counter<'vendor' | 'status'>;
  readonly retries: Counter<'vendor'>;
  readonly claims: Histogram;
  readonly retained: Counter;
  readonly unavailable: Counter<'reason'>;
  readonly sockets: Gauge;
  readonly subscriptions: Gauge<'field'>;
  readonly subscriptionsRefused: Counter<'reason'>;
  readonly socketsClosed: Counter<'code'>;

  constructor(db: Db) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'igw_process_' });
    this.requests = new Counter({
      name: 'igw_graphql_requests_total',
      help: 'GraphQL operations by operation name and outcome (ok or the error code)',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.latency = new Histogram({
      name: 'igw_graphql_request_duration_seconds',
      help: 'GraphQL operation latency',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.identifyOutcomes = new Counter({
      name: 'igw_identify_results_total',
      help: 'identifyUsers items by outcome (MERGED, IDENTIFIED, UNCHANGED, NOT_FOUND, AMBIGUOUS, REJECTED)',
      labelNames: ['outcome'],
      registers,
    });
    this.deliveries = new Counter({
      name: 'igw_deliveries_total',
      help: 'Delivery attempts finished by this process, by vendor and resulting status',
      labelNames: ['vendor', 'status'],
      registers,
    });
    this.retries = new Counter({
      name: 'igw_delivery_retries_total',
      help: 'Deliveries scheduled for another attempt (failures and throttling)',
      labelNames: ['vendor'],
      registers,
    });
    this.claims = new Histogram({
      name: 'igw_outbox_claim_duration_seconds',
      help: 'Time to claim one batch of deliveries (one workspace and vendor)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 1],
      registers,
    });
    this.unavailable = new Counter({
      name: 'igw_unavailable_total',
      help: 'Requests answered UNAVAILABLE (retry later), by reason: CONTENTION (lost races), LOCK_TIMEOUT, STATEMENT_TIMEOUT, TRANSACTION_TIMEOUT',
      labelNames: ['reason'],
      registers,
    });
    this.sockets = new Gauge({
      name: 'igw_ws_connections',
      help: 'WebSocket connections (graphql-ws) open on this process',
      registers,
    });
    this.subscriptions = new Gauge({
      name: 'igw_subscriptions',
      help: 'Subscriptions running on this process, by field',
      labelNames: ['field'],
      registers,
    });
    this.subscriptionsRefused = new Counter({
      name: 'igw_subscriptions_refused_total',
      help: 'Subscriptions refused or ended by a limit: PER_CONNECTION, PER_KEY, SLOW_CONSUMER',
      labelNames: ['reason'],
      registers,
    });
    this.socketsClosed = new Counter({
      name: 'igw_ws_closed_total',
      help: 'WebSocket connections closed, by close code (4401 bad key, 4403 missing scope, 4408 no init in time, 1000 normal...)',
      labelNames: ['code'],
      registers,
    });
    this.retained = new Counter({
      name: 'igw_outbox_rows_removed_total',
      help: 'Finished deliveries deleted after their retention period',
      registers,
    });
    const depth = new Gauge({
      name: 'igw_outbox_depth',
      help: 'Outbox rows waiting to be delivered, by vendor and status',
      labelNames: ['vendor', 'status'],
      registers,
      async collect() {
        const rows = rowsOf<{ vendor: string; status: string; n: number }>(
          await db.execute(sql`
            select vendor, status, count(*)::int as n from outbox_messages
            where status in ('PENDING', 'RETRYING') group by vendor, status`),
        );
        this.reset();
        for (const r of rows) this.set({ vendor: r.vendor, status: r.status }, Number(r.n));
      },
    });
    void depth;
    const oldest = new Gauge({
      name: 'igw_outbox_oldest_age_seconds',
      help: 'Age of the oldest outbox row still waiting, by vendor',
      labelNames: ['vendor'],
      registers,
      async collect() {
        const rows = rowsOf<{ vendor: string; age: number }>(
          await db.execute(sql`
            select vendor, extract(epoch from now() - min(created_at))::float8 as age from outbox_messages
            where status in ('PENDING', 'RETRYING') group by vendor`),
        );
        this.reset();
        for (const r of rows) this.set({ vendor: r.vendor }, Number(r.age));
      },
    });
    void oldest;
  }

  /** What the outbox dispatcher of this process reports into. */
  dispatcherObserver(): DispatcherObserver {
    return {
      finished: (vendor, status) => {
        this.deliveries.inc({ vendor, status });
        if (status === 'RETRYING') this.retries.inc({ vendor });
      },
      claimed: (seconds) => this.claims.observe(seconds),
      removed: (rows) => this.retained.inc(rows),
    };
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
