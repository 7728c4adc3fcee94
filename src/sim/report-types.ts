// The simulator's report: what one run (or a comparison of strategies) measured, in a shape that is written to
// report.json and rendered as a terminal table and a self-contained HTML page.

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
} // milliseconds

export interface OutcomeCounts {
  ordered: number;
  sold_out: number;
  duplicate: number;
  busy: number;
  rate_limited: number;
  not_started: number;
  ended: number;
  errors: number;
}

export interface Reconciliation {
  initialStock: number;
  redisRemaining: number;
  activeOrders: number;
  paidOrders: number;
  cancelledOrders: number;
  dbStock: number;
  outboxPending: number;
  consumerLag: number;
  oversell: number;
  undersell: number;
  dbDrift: number;
}

// One point per sampling interval (e.g. 250 ms); requests/ordered are counts within that interval.
export interface TimelinePoint {
  tMs: number;
  requests: number;
  ordered: number;
  p50Ms: number;
  p99Ms: number;
  remainingStock: number;
}

export interface RunReport {
  strategy: string;
  expectedSafe: boolean;
  verdict: 'pass' | 'fail' | 'unsafe (expected)';
  requests: number;
  durationMs: number;
  ratePerSec: number;
  latencyMs: LatencySummary;
  outcomes: OutcomeCounts;
  reconciliation: Reconciliation;
  timeToSellOutMs: number | null;
  timeToDrainMs: number;
  timeline: TimelinePoint[];
}

export interface SimReport {
  generatedAt: string; // ISO
  scenario: {
    name: string;
    stock: number;
    segments: number;
    users: number;
    requests: number;
    concurrency?: number;
    ratePerSec?: number;
    duplicateRatio: number;
    payRatio: number;
    paymentTimeoutMs: number;
  };
  // Human text, e.g. "embedded broker 127.0.0.1:40123", "PGlite (embedded, one transaction at a time)".
  backends: { redis: string; postgres: string; kafka: string; locks?: string; api?: string };
  runs: RunReport[];
  /** Strategies asked for that could not run here, with why and how to get what they need. */
  skipped?: { strategy: string; reason: string }[];
}
