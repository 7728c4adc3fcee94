// Prometheus metrics (prom-client), one registry per service instance so tests can run several side by side.
// Names follow Prometheus conventions: the unit in the name (_seconds, _messages, _units), _total on counters,
// histograms for latencies. deploy/grafana/dashboards/seckill.json queries these names (a test checks it).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RoomView } from '../waiting-room/room-view';
import { admissionsPerSecond } from '../waiting-room/waiting-room';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'seckill_requests_total',
      help: 'POST /seckill answers by outcome',
      labelNames: ['outcome'],
      registers,
    }),
    requestLatency: new Histogram({
      name: 'seckill_request_duration_seconds',
      help: 'POST /seckill latency by outcome',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    lockAttempts: new Counter({
      name: 'seckill_stock_segment_attempts_total',
      help: 'Attempts to take a unit from one segment, by result (taken, empty, contended)',
      labelNames: ['result'],
      registers,
    }),
    ordersCreated: new Counter({ name: 'seckill_orders_created_total', help: 'Orders committed', registers }),
    orderBatchSize: new Histogram({
      name: 'seckill_order_batch_size',
      help: 'Orders per group-commit transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    }),
    orderCommitDuration: new Histogram({
      name: 'seckill_order_commit_duration_seconds',
      help: 'Time to write one group-commit batch, from BEGIN to the settled outcome',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    stockRepairs: new Counter({
      name: 'seckill_stock_repairs_total',
      help: 'Redis segments put right from the database ledger: rebuilt (lost), corrected (drifted), clamped (units)',
      labelNames: ['kind'],
      registers,
    }),
    outboxPending: new Gauge({
      name: 'seckill_outbox_pending_messages',
      help: 'Outbox rows not yet relayed (refreshed by /stats and /metrics)',
      registers,
    }),
    relayPublished: new Counter({
      name: 'seckill_relay_published_total',
      help: 'Outbox messages acknowledged by Kafka',
      registers,
    }),
    relayFailures: new Counter({
      name: 'seckill_relay_failures_total',
      help: 'Failed publish batches',
      registers,
    }),
    consumerProcessed: new Counter({
      name: 'seckill_consumer_processed_total',
      help: 'Inventory messages by result (applied, duplicate)',
      labelNames: ['result'],
      registers,
    }),
    cacheDeletes: new Counter({
      name: 'seckill_cache_deletes_total',
      help: 'Item cache deletes by phase (first, second)',
      labelNames: ['phase'],
      registers,
    }),
    cacheDbReads: new Counter({
      name: 'seckill_item_cache_db_reads_total',
      help: 'Item reads that reached the database (cache misses that rebuilt)',
      registers,
    }),
    // Per-item reconciliation gauges, set from /stats (definitions in the README's /stats section).
    stockRemaining: new Gauge({
      name: 'seckill_stock_remaining_units',
      help: 'Units still on sale per item (Redis segments, or the database for the db strategy)',
      labelNames: ['item'],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'seckill_consumer_lag_messages',
      help: 'Relayed messages the inventory consumer has not applied yet, per item',
      labelNames: ['item'],
      registers,
    }),
    oversell: new Gauge({
      name: 'seckill_oversell_units',
      help: 'Oversold units per item',
      labelNames: ['item'],
      registers,
    }),
    undersell: new Gauge({
      name: 'seckill_undersell_units',
      help: 'Leaked units per item (negative: phantom stock)',
      labelNames: ['item'],
      registers,
    }),
    dbDrift: new Gauge({
      name: 'seckill_db_drift_units',
      help: 'Database stock minus (initial stock - active orders) per item; 0 once drained',
      labelNames: ['item'],
      registers,
    }),
    roomWaiting: new Gauge({
      name: 'seckill_waiting_room_visitors',
      help: "Visitors waiting in a sale's waiting room",
      labelNames: ['item'],
      registers,
    }),
    roomAdmitted: new Gauge({
      name: 'seckill_waiting_room_admitted_visitors',
      help: 'Visitors admitted so far (the serving number)',
      labelNames: ['item'],
      registers,
    }),
    roomAdmissionRate: new Gauge({
      name: 'seckill_waiting_room_admissions_per_second',
      help: 'Visitors admitted per second, as this process watched the serving number move',
      labelNames: ['item'],
      registers,
    }),
    roomEstimatedWait: new Gauge({
      name: 'seckill_waiting_room_estimated_wait_seconds',
      help: 'Estimated wait of the last visitor in line (waiting / admissions per second)',
      labelNames: ['item'],
      registers,
    }),
    passesRefused: new Counter({
      name: 'seckill_waiting_room_passes_refused_total',
      help: 'POST /seckill refused for its admission pass, by code',
      labelNames: ['code'],
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** A waiting room's gauges, from this process's copy of it. */
export function recordRoom(metrics: Metrics, itemId: string, view: RoomView): void {
  const { waiting, admitted } = view.counters;
  metrics.roomWaiting.set({ item: itemId }, waiting);
  metrics.roomAdmitted.set({ item: itemId }, admitted);
  metrics.roomAdmissionRate.set({ item: itemId }, view.admissionRate);
  const rate = admissionsPerSecond(view);
  metrics.roomEstimatedWait.set({ item: itemId }, rate ? waiting / rate : 0);
}
