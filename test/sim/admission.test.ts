// `--compare-admission off,fifo,random` on the real services, small: the same crowd of visitors (humans, impatient
// ones, bots with several accounts and connections) buys one item per admission mode, and the report says who got
// the units. fifo must serve in arrival order, the lottery must not favour any arrival bucket of its pre-queue, and
// every mode must end exact.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS } from '../../src/sim/cli';
import type { AdmissionFairness } from '../../src/sim/fairness';
import { renderHtml, renderTable, writeReportFiles } from '../../src/sim/report';
import type { SimReport } from '../../src/sim/report-types';
import { simulate, type SimOptions } from '../../src/sim/simulate';

const options: SimOptions = {
  scenario: 'compare-admission',
  strategies: ['segmented-lock'],
  stock: 30,
  segments: 4,
  users: 300,
  requests: 0,
  connections: 1,
  duplicateRatio: 0,
  payRatio: 1, // no expiries: the sale ends with its stock, and quickly
  paymentTimeoutMs: 60_000,
  userRateLimit: 0,
  seed: 42,
  drainTimeoutMs: 30_000,
  workers: 1,
  admissionModes: ['off', 'fifo', 'random'],
  // A cap of 2 keeps the race for the last units (admitted visitors buy in the order they poll) to one place out
  // of 30; the run's other settings are the defaults, over a shorter window.
  admissionCrowd: { arrivalWindowMs: 1000, preQueueMs: 500, maxUnfinished: 2 },
  progress: () => undefined,
};
const env = { PATH: process.env.PATH, LOG_LEVEL: 'silent' };

let report: SimReport;
const fairness = (mode: string) =>
  report.runs.find((run) => run.admission === mode)!.fairness as AdmissionFairness;

beforeAll(async () => {
  report = await simulate(options, env);
}, 120_000);

test('one run per admission mode, each named, each exact: oversell, undersell and dbDrift 0', () => {
  expect(report.runs.map((run) => run.admission)).toEqual(['off', 'fifo', 'random']);
  for (const run of report.runs) {
    expect({ mode: run.admission, ...run.reconciliation }).toMatchObject({
      mode: run.admission,
      oversell: 0,
      undersell: 0,
      dbDrift: 0,
    });
    expect(run.verdict).toBe('pass');
    expect(run.outcomes.ordered).toBe(options.stock);
  }
});

test('every run carries the fairness figures; the room modes their queue and sold-out counts', () => {
  for (const run of report.runs) {
    const f = run.fairness as AdmissionFairness;
    for (const key of [
      'kendallTau',
      'firstComersServed',
      'randomUniformityP',
      'queueP50Ms',
      'queueP99Ms',
      'toldSoldOutWhileWaiting',
      'purchaseP99Ms',
      'byKind',
    ])
      expect(f).toHaveProperty(key);
    expect(f.purchaseP99Ms).toBeGreaterThan(0);
    expect(run.arrivalRankByGrant).toHaveLength(run.outcomes.ordered);
    const accounts = Object.values(f.byKind).reduce((sum, kind) => sum + kind.accounts, 0);
    expect(accounts).toBe(options.users);
  }
  expect(fairness('off')).toMatchObject({ queueP50Ms: null, toldSoldOutWhileWaiting: null });
  for (const mode of ['fifo', 'random']) {
    expect(fairness(mode).queueP99Ms).toBeGreaterThanOrEqual(fairness(mode).queueP50Ms!);
    // 300 visitors for 30 units: most of them hear "sold out" from the room while they wait.
    expect(fairness(mode).toldSoldOutWhileWaiting).toBeGreaterThan(options.users / 2);
  }
});

test('fifo serves in arrival order: kendallTau and firstComersServed at least 0.95', () => {
  expect(fairness('fifo').kendallTau).toBeGreaterThanOrEqual(0.95);
  expect(fairness('fifo').firstComersServed).toBeGreaterThanOrEqual(0.95);
});

test('the lottery favours no arrival bucket of its pre-queue (χ² p > 0.01 on the fixed seed)', () => {
  expect(fairness('random').randomUniformityP).toBeGreaterThan(0.01);
  expect(fairness('fifo').randomUniformityP).toBeNull();
  expect(fairness('off').randomUniformityP).toBeNull();
});

test('the table, report.json and report.html name the modes and carry the figures', async () => {
  const table = renderTable(report);
  expect(table).toMatch(/\s+off\s+fifo\s+random/);
  for (const label of ['randomUniformityP', 'purchase p99 (POST /seckill)', 'bots: units / accounts'])
    expect(table).toContain(label);
  const files = await writeReportFiles(report, mkdtempSync(join(tmpdir(), 'seckill-admission-')));
  const saved = JSON.parse(readFileSync(files.jsonPath, 'utf8')) as SimReport;
  expect(saved.runs.map((run) => run.admission)).toEqual(['off', 'fifo', 'random']);
  expect(saved.runs[1].fairness).toHaveProperty('kendallTau');
  expect(renderHtml(report)).toContain('<canvas id="chart-grants"></canvas>');
});

test('the waiting-room scenario (twin of loadtest/waiting-room.js): one sale behind a fifo room, exact', async () => {
  const preset = SCENARIOS['waiting-room'];
  expect(preset.admissionModes).toEqual(['fifo']);
  const run = await simulate(
    {
      ...options,
      ...preset,
      scenario: 'waiting-room',
      stock: 5,
      users: 50,
      payRatio: 1,
      workers: undefined,
    },
    env,
  );
  expect(run.runs.map((r) => [r.admission, r.verdict, r.outcomes.ordered])).toEqual([['fifo', 'pass', 5]]);
  expect(run.runs[0].reconciliation).toMatchObject({ oversell: 0, undersell: 0, dbDrift: 0 });
}, 60_000);
