// A two-strategy comparison with distinct numbers in every column, for the report tests and for eyeballing the
// rendered page (npx tsx -e "…writeReportFiles(sampleReport(), '/tmp/sample')").
import type { RunReport, SimReport, TimelinePoint } from '../../src/sim/report-types';

// Each strategy gets its own shape so the lines in the rendered charts do not hide one another.
function timeline(
  points: number,
  requestsPerPoint: number,
  unitsPerPoint: number,
  latencyScale: number,
): TimelinePoint[] {
  const stock = 100;
  return Array.from({ length: points }, (_, i) => ({
    tMs: (i + 1) * 250,
    requests: requestsPerPoint + ((i * 37) % 90),
    ordered: Math.min(unitsPerPoint, Math.max(0, stock - i * unitsPerPoint)),
    p50Ms: latencyScale * (2 + i * 0.5),
    p99Ms: latencyScale * (9 + 2 * i),
    remainingStock: Math.max(0, stock - (i + 1) * unitsPerPoint),
  }));
}

function run(overrides: Partial<RunReport> & Pick<RunReport, 'strategy'>): RunReport {
  return {
    expectedSafe: true,
    verdict: 'pass',
    requests: 4000,
    durationMs: 2000,
    ratePerSec: 2000,
    latencyMs: { p50: 3.2, p95: 11.7, p99: 24.9, max: 80.1 },
    outcomes: {
      ordered: 100,
      sold_out: 3650,
      duplicate: 150,
      busy: 0,
      rate_limited: 100,
      not_started: 0,
      ended: 0,
      errors: 0,
    },
    reconciliation: {
      initialStock: 100,
      redisRemaining: 0,
      activeOrders: 100,
      paidOrders: 50,
      cancelledOrders: 0,
      dbStock: 0,
      outboxPending: 0,
      consumerLag: 0,
      oversell: 0,
      undersell: 0,
      dbDrift: 0,
    },
    timeToSellOutMs: 640,
    timeToDrainMs: 1500,
    timeline: timeline(8, 500, 20, 1),
    fairness: { kendallTau: 0.812, firstComersServed: 0.64 },
    ...overrides,
  };
}

export function sampleReport(): SimReport {
  return {
    generatedAt: '2025-01-02T03:04:05.000Z',
    scenario: {
      name: 'spike',
      stock: 100,
      segments: 8,
      users: 3000,
      requests: 4000,
      ratePerSec: 2000,
      duplicateRatio: 0.05,
      payRatio: 0.5,
      paymentTimeoutMs: 5000,
    },
    backends: {
      redis: 'redis-server 127.0.0.1:6390',
      postgres: 'PGlite (embedded, one transaction at a time)',
      kafka: 'embedded broker 127.0.0.1:40123',
    },
    runs: [
      run({ strategy: 'segmented-lock' }),
      run({
        strategy: 'naive',
        expectedSafe: false,
        fairness: { kendallTau: 0.455, firstComersServed: 0.37 },
        verdict: 'unsafe (expected)',
        ratePerSec: 2743.6,
        latencyMs: { p50: 1.4, p95: 6.3, p99: 17.8, max: 41 },
        outcomes: {
          ordered: 137,
          sold_out: 3613,
          duplicate: 171,
          busy: 2,
          rate_limited: 77,
          not_started: 0,
          ended: 0,
          errors: 5,
        },
        reconciliation: {
          ...run({ strategy: 'x' }).reconciliation,
          activeOrders: 137,
          oversell: 37,
          dbDrift: -4,
        },
        timeToSellOutMs: null,
        timeToDrainMs: 2250,
        timeline: timeline(6, 700, 30, 0.6),
      }),
    ],
  };
}
