// The chaos checker, schedule and matrix on hand-made data: each check fires on the numbers it claims, and only then.
import { renderChaosHtml, renderChaosTable } from '../../src/sim/chaos/chaos-report';
import { checkRun, formatViolation, type RunFacts } from '../../src/sim/chaos/checker';
import { buildSchedule } from '../../src/sim/chaos/schedule';
import { buildMatrix, summarise } from '../../src/sim/chaos/matrix';
import type { ChaosReport, ChaosRunReport } from '../../src/sim/report-types';

const order = (id: string, userId: string, status: 'PAID' | 'CANCELLED' = 'PAID') => ({ id, userId, status });

function balanced(): RunFacts {
  return {
    initialStock: 2,
    demandExceededStock: true,
    final: { oversell: 0, undersell: 0, dbDrift: 0, consumerLag: 0 },
    orders: [order('1', 'a'), order('2', 'b'), order('3', 'c', 'CANCELLED')],
    acknowledged: [
      { orderId: '1', userId: 'a' },
      { orderId: '3', userId: 'c' },
    ],
    outbox: { rows: 4, unsent: 0, applied: 4 },
    history: [
      { tMs: 0, initialStock: 2, redisRemaining: 2, activeOrders: 0, cancelledOrders: 0 },
      { tMs: 200, initialStock: 2, redisRemaining: 0, activeOrders: 2, cancelledOrders: 0 },
    ],
  };
}

const checks = (facts: RunFacts) => checkRun(facts).map(formatViolation);

test('a balanced sale passes every check', () => {
  expect(checks(balanced())).toEqual([]);
});

test('each broken invariant is reported with its numbers', () => {
  const facts = balanced();
  facts.orders = [order('1', 'a'), order('2', 'a'), order('3', 'c')];
  facts.acknowledged = [
    { orderId: '1', userId: 'a' },
    { orderId: '1', userId: 'z' },
    { orderId: '9', userId: 'y' },
  ];
  facts.final = { oversell: 1, undersell: -1, dbDrift: 2, consumerLag: 1 };
  facts.outbox = { rows: 5, unsent: 1, applied: 3 };
  facts.history.push({ tMs: 400, initialStock: 2, redisRemaining: -1, activeOrders: 3, cancelledOrders: 0 });
  expect(checks(facts)).toEqual([
    'orders = stock: activeOrders=3 stock=2',
    'oversell: oversell=1',
    'undersell: undersell=-1',
    'dbDrift: dbDrift=2',
    'one active order per user: users=1',
    'order ids unique: shared=1 twice=0',
    'acknowledged orders kept: lost=1',
    'outbox all SENT: unsent=1',
    'messages applied once: rows=5 applied=3 consumerLag=1',
    'stock never negative: samples=1 lowest=-1',
  ]);
});

test('R + A ≤ S allows exactly the give-backs of cancellations the next sample sees', () => {
  const facts = balanced();
  // A unit given back between the snapshot and the Redis read: one cancellation lands before the next sample.
  facts.history = [
    { tMs: 0, initialStock: 2, redisRemaining: 1, activeOrders: 2, cancelledOrders: 0 },
    { tMs: 200, initialStock: 2, redisRemaining: 1, activeOrders: 1, cancelledOrders: 1 },
  ];
  expect(checks(facts)).toEqual([]);
  facts.history[0].redisRemaining = 2; // two more than stock, one explained
  expect(checks(facts)).toEqual(['R + A ≤ S: samples=1 worstExcess=1']);
});

test('orders = stock is only asked for when demand exceeded stock', () => {
  const facts = balanced();
  facts.orders = [order('1', 'a')];
  facts.acknowledged = [{ orderId: '1', userId: 'a' }];
  expect(checks(facts)).toEqual(['orders = stock: activeOrders=1 stock=2']);
  facts.demandExceededStock = false;
  expect(checks(facts)).toEqual([]);
});

test('the schedule is a function of the seed', () => {
  const faults = ['a', 'b', 'c', 'd'].map((name) => ({ name, durationMs: [100, 500] as const }));
  const shape = { seed: 9, count: 2, windowMs: 5000 };
  const plan = buildSchedule(faults, shape);
  expect(buildSchedule(faults, shape)).toEqual(plan);
  expect(plan).toHaveLength(2);
  expect(new Set(plan.map((step) => step.fault)).size).toBe(2);
  for (const step of plan) {
    expect(step.atMs).toBeGreaterThanOrEqual(0);
    expect(step.atMs).toBeLessThan(5000);
    expect(step.durationMs).toBeGreaterThanOrEqual(100);
    expect(step.durationMs).toBeLessThanOrEqual(500);
  }
  expect(plan.map((step) => step.atMs)).toEqual([...plan.map((step) => step.atMs)].sort((a, b) => a - b));
  expect(buildSchedule(faults, { ...shape, seed: 10 })).not.toEqual(plan);
});

const run = (seed: number, faults: string[], violations: string[]): ChaosRunReport => ({
  strategy: 'lua',
  expectedSafe: true,
  seed,
  faults: faults.map((fault) => ({ fault, atMs: 0, durationMs: 0 })),
  violations,
  durationMs: 1,
  ordered: 0,
  soldOut: 0,
  activeOrders: 0,
  cancelledOrders: 0,
  gaveUp: 0,
  retries: 0,
  crashes: 0,
  acknowledgedLost: 0,
  errorAnswers: 0,
  errorSamples: [],
});

test('a failing run marks every fault it injected; faults never drawn are "not run"', () => {
  const matrix = buildMatrix(
    [run(1, ['x', 'y'], ['undersell: undersell=1']), run(2, ['x'], [])],
    ['lua'],
    ['x', 'y', 'z', 'w'],
    (_strategy, fault) => (fault === 'w' ? 'no lock server' : undefined),
  );
  expect(matrix.map((cell) => [cell.fault, cell.status, cell.failedRuns, cell.runs])).toEqual([
    ['x', 'fail', 1, 2],
    ['y', 'fail', 1, 1],
    ['z', 'not run', 0, 0],
    ['w', 'n/a', 0, 0],
  ]);
  expect(matrix[0].failures).toEqual([{ seed: 1, violations: ['undersell: undersell=1'] }]);
});

test('the terminal table and the page show the failing cell, its numbers and the replay command', () => {
  const runs = [run(7, ['x'], ['undersell: undersell=2']), run(8, ['y'], [])];
  const report: ChaosReport = {
    generatedAt: '2026-12-01T00:00:00.000Z',
    scenario: {
      stock: 30,
      segments: 4,
      users: 150,
      payRatio: 0.5,
      paymentTimeoutMs: 1500,
      windowMs: 5000,
      faultsPerRun: 1,
      apis: 2,
      firstSeed: 7,
      runsPerStrategy: 2,
    },
    backends: { redis: 'r', postgres: 'p', kafka: 'k' },
    faults: ['x', 'y'],
    runs,
    matrix: buildMatrix(runs, ['lua'], ['x', 'y'], () => undefined),
    summary: summarise(runs, ['lua']),
  };
  const table = renderChaosTable(report);
  expect(table).toMatch(/^x +FAIL 1\/1$/m);
  expect(table).toMatch(/^y +pass 1$/m);
  expect(table).toMatch(/^lua +2 +2 +1 +0 +7 /m);
  expect(table).toContain('lua seed 7 [x]: undersell: undersell=2');
  expect(table).toContain('replay: npm run sim -- --chaos --strategy lua --seed 7 --stock 30');
  const html = renderChaosHtml(report);
  expect(html).toContain('<td class="fail" title="seed 7: undersell: undersell=2">FAIL 1/1');
  expect(html).toContain('--seed 7');
});
