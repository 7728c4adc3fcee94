// The simulator's report: what one run (or a comparison of strategies) measured, in a shape that is written to
// report.json and rendered as a terminal table and a self-contained HTML page.
import type { ChaosOptions } from './chaos/run-chaos';
import type { AdmissionFairness, Fairness } from './fairness';
import type { AdmissionCrowd, AdmissionMode } from './visitors';

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
  /** Who got the units: arrival order against grant order (fairness.ts); with `admission`, the room's figures too. */
  fairness: Fairness | AdmissionFairness;
  /** `--compare-admission`: the sale's waiting room mode. */
  admission?: AdmissionMode;
  /** `--compare-admission`: requests per route (purchase = POST /seckill, join and status of the room). */
  requestsByRoute?: { purchase: number; join: number; status: number };
  /** `--compare-admission`: for each unit granted, in grant order, the arrival rank (0 = first) of its buyer. */
  arrivalRankByGrant?: number[];
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
    /** `--compare-admission`: the visitors' arrivals and kinds, and the rooms' settings. */
    admission?: AdmissionCrowd;
  };
  // Human text, e.g. "embedded broker 127.0.0.1:40123", "PGlite (embedded, one transaction at a time)".
  backends: { redis: string; postgres: string; kafka: string; locks?: string; api?: string };
  runs: RunReport[];
  /** Strategies asked for that could not run here, with why and how to get what they need. */
  skipped?: { strategy: string; reason: string }[];
}

// Chaos mode (--chaos): runs under a seeded nemesis, the fault matrix they fill, and a summary per strategy.

export interface Recovery {
  /** ms from the injection to the first `ordered` answer to a request sent after it; absent: none came. */
  firstOrderAfterMs?: number;
  /** `busy` answers between the injection and that first order (or the crowd's end). */
  busyAnswers: number;
  /** Every answer to a request sent after the injection, by outcome (ordered, busy, sold_out, no_answer, …). */
  answersAfter: Record<string, number>;
}

export interface ChaosFaultRun {
  fault: string;
  /** Scheduled offset from the crowd's start; injectedAtMs is when the fault was in place (later behind a slow heal). */
  atMs: number;
  injectedAtMs?: number;
  durationMs: number;
  /** After the injection: the first order a buyer was told of (asked after it), and the busy answers until then. */
  recovery?: Recovery;
  /** The inject or heal step failed (the run still counts: the checker judges what the service made of it). */
  error?: string;
}

export interface ChaosRunReport {
  strategy: string;
  expectedSafe: boolean;
  /** Replays this run exactly: --chaos --seed <seed> --strategy <strategy>. */
  seed: number;
  faults: ChaosFaultRun[];
  /** Each "check: name=value …", e.g. "undersell: undersell=3". Empty: the run passed. */
  violations: string[];
  durationMs: number;
  ordered: number;
  soldOut: number;
  /** The sale's orders in the database at the end: not cancelled, and cancelled (expired unpaid). */
  activeOrders: number;
  cancelledOrders: number;
  /** Buyers without a final answer when the run gave up on them. */
  gaveUp: number;
  /** Requests repeated after busy answers, refused connections or timeouts. */
  retries: number;
  /** Service processes that died without being asked to (and were restarted by the supervisor). */
  crashes: number;
  /** Buyers told `ordered` whose order is not in the database at quiescence: promises broken. */
  acknowledgedLost: number;
  /** Answers that were neither a purchase outcome nor `busy` (a 500, a malformed body). */
  errorAnswers: number;
  /** The first few distinct error answers: HTTP status and the start of the body. */
  errorSamples: string[];
}

export interface ChaosCell {
  strategy: string;
  fault: string;
  status: 'pass' | 'fail' | 'not run' | 'n/a';
  /** Runs that injected this fault, and how many of them failed a check. */
  runs: number;
  failedRuns: number;
  failures: { seed: number; violations: string[] }[];
  /** n/a: why the fault cannot be injected for this strategy here. */
  reason?: string;
}

export interface ChaosSummary {
  strategy: string;
  expectedSafe: boolean;
  runs: number;
  faultsInjected: number;
  violations: number;
  firstFailingSeed: number | null;
  durationMs: number;
  acknowledgedLost: number;
}

export interface ChaosReport {
  generatedAt: string; // ISO
  /** The run's options as given, the first seed and the seeded runs per strategy. */
  scenario: Pick<
    ChaosOptions,
    | 'stock'
    | 'segments'
    | 'users'
    | 'payRatio'
    | 'paymentTimeoutMs'
    | 'windowMs'
    | 'faultsPerRun'
    | 'apis'
    | 'postgresHa'
  > & { firstSeed: number; runsPerStrategy: number };
  backends: SimReport['backends'];
  faults: string[];
  runs: ChaosRunReport[];
  matrix: ChaosCell[];
  summary: ChaosSummary[];
  skipped?: { strategy: string; reason: string }[];
}
