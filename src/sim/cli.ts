// `seckill sim` / `npm run sim`: options, scenario presets (twins of the k6 scripts), report files, exit code.
import type { Command } from 'commander';
import { STRATEGY_NAMES, type StrategyName } from '../config';
import { renderChaosTable, writeChaosReportFiles } from './chaos/chaos-report';
import { FAULT_NAMES, faultsNamed } from './chaos/faults';
import { runChaos, type ChaosOptions } from './chaos/run-chaos';
import { renderTable, writeReportFiles } from './report';
import type { ReplicationMode } from './postgres-ha';
import { simulate, type SimOptions } from './simulate';
import { ADMISSION_DEFAULTS, type AdmissionCrowd, type AdmissionMode } from './visitors';
import { ADMISSION_MODES } from '../waiting-room/settings';

type Preset = Omit<SimOptions, 'scenario' | 'strategies' | 'progress' | 'seed' | 'drainTimeoutMs'>;

const BASE: Preset = {
  stock: 100,
  segments: 8,
  users: 2000,
  requests: 4000,
  connections: 64,
  duplicateRatio: 0.1,
  payRatio: 0.7,
  paymentTimeoutMs: 2000,
  userRateLimit: 0,
};

/** Each k6 script under loadtest/ has its twin here, so CI runs the same scenario without k6. */
export const SCENARIOS: Record<string, Preset> = {
  default: BASE,
  spike: { ...BASE, stock: 200, users: 5000, requests: 5000, duplicateRatio: 0, ratePerSec: 2500 },
  fairness: { ...BASE, users: 2000, requests: 2000, duplicateRatio: 0 },
  duplicates: { ...BASE, users: 50, requests: 2000, duplicateRatio: 0.95, connections: 32, userRateLimit: 5 },
  // Twin of loadtest/waiting-room.js: one sale behind a fifo room; visitors join, poll and buy with the pass.
  'waiting-room': { ...BASE, users: 100 * ADMISSION_DEFAULTS.visitorsPerUnit, admissionModes: ['fifo'] },
};

/** Chaos mode's sale: small, so that a run of a few faults takes seconds and many seeds fit in minutes. */
export const CHAOS_DEFAULTS = {
  stock: 30,
  segments: 4,
  users: 150,
  payRatio: 0.5,
  paymentTimeoutMs: 1500,
  windowMs: 5000,
  faultsPerRun: 2,
  apis: 2,
};

const number = (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`not a number ≥ 0: ${value}`);
  return parsed;
};

function strategyList(value: string): StrategyName[] {
  const names = value === 'all' ? [...STRATEGY_NAMES] : value.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(STRATEGY_NAMES as readonly string[]).includes(name));
  if (unknown.length)
    throw new Error(`unknown strategy ${unknown.join(', ')}; use ${STRATEGY_NAMES.join(', ')}`);
  return names as StrategyName[];
}

/** `--postgres-ha` alone is `sync`; `async` is the teaching case. */
function replicationMode(value: string | boolean | undefined): ReplicationMode | undefined {
  if (value === undefined) return undefined;
  if (value === true || value === 'sync') return 'sync';
  if (value === 'async') return 'async';
  throw new Error(`--postgres-ha is sync (the default) or async, not ${String(value)}`);
}

function admissionModeList(value: string): AdmissionMode[] {
  const modes = value.split(',').map((mode) => mode.trim());
  const unknown = modes.filter((mode) => !(ADMISSION_MODES as readonly string[]).includes(mode));
  if (unknown.length || !modes.length)
    throw new Error(`unknown admission mode ${unknown.join(', ')}; use ${ADMISSION_MODES.join(', ')}`);
  return modes as AdmissionMode[];
}

/** The crowd and room flags of --compare-admission that were given (the rest are ADMISSION_DEFAULTS). */
function admissionCrowdFlags(opts: Record<string, string | undefined>): Partial<AdmissionCrowd> {
  const flags: [keyof AdmissionCrowd, string][] = [
    ['ratePerSec', 'admissionRate'],
    ['maxUnfinished', 'admissionCap'],
    ['randomMaxUnfinished', 'admissionCap'],
    ['arrivalWindowMs', 'arrivalWindowMs'],
    ['preQueueMs', 'preQueueMs'],
    ['botShare', 'botShare'],
    ['impatientShare', 'impatientShare'],
  ];
  return Object.fromEntries(
    flags.filter(([, flag]) => opts[flag] !== undefined).map(([key, flag]) => [key, number(opts[flag]!)]),
  );
}

function buyerAuthMode(value: string): 'open' | 'token' {
  if (value !== 'open' && value !== 'token') throw new Error(`--buyer-auth is open or token, not ${value}`);
  return value;
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('simulate a flash sale end to end and report oversell, undersell and drift')
    .option('--scenario <name>', `preset: ${Object.keys(SCENARIOS).join(', ')}`, 'default')
    .option('--strategy <name>', `inventory strategy: ${STRATEGY_NAMES.join(', ')}`, 'segmented-lock')
    .option(
      '--compare <list>',
      'run several strategies on the same crowd, side by side ("all" for every one)',
    )
    .option(
      '--compare-admission <list>',
      `sell to the same crowd of visitors once per waiting-room mode (${ADMISSION_MODES.join(', ')}), side by side`,
    )
    .option(
      '--admission-rate <n>',
      `compare-admission: visitors admitted per second (${ADMISSION_DEFAULTS.ratePerSec})`,
    )
    .option(
      '--arrival-window-ms <n>',
      `compare-admission: visitors arrive over this window (${ADMISSION_DEFAULTS.arrivalWindowMs})`,
    )
    .option(
      '--pre-queue-ms <n>',
      `compare-admission: random's pre-queue opens this long before the start (${ADMISSION_DEFAULTS.preQueueMs})`,
    )
    .option(
      '--bot-share <ratio>',
      `compare-admission: share of accounts owned by bots (${ADMISSION_DEFAULTS.botShare})`,
    )
    .option(
      '--impatient-share <ratio>',
      `compare-admission: share of humans who retry (${ADMISSION_DEFAULTS.impatientShare})`,
    )
    .option('--stock <n>', 'units on sale')
    .option('--segments <n>', 'Redis segments of the stock')
    .option('--users <n>', 'distinct buyers')
    .option('--requests <n>', 'total requests')
    .option('--concurrency <n>', 'connections of the load generator (closed model)')
    .option('--rate <n>', 'arrival rate in requests/s (open model, like k6 arrival-rate executors)')
    .option('--duplicates <ratio>', 'share of requests repeating a user already seen (0..1)')
    .option(
      '--pay-ratio <ratio>',
      'share of orders paid; the rest expire and their units go back on sale (0..1)',
    )
    .option('--payment-timeout-ms <n>', 'payment window of each order')
    .option('--user-rate-limit <n>', 'requests per user per second the service allows (0 = off)')
    .option('--buyer-auth <mode>', 'open (userId in the body) or token (a signed token per buyer)', 'open')
    .option(
      '--redis-cluster <masters>',
      'run on a private Redis Cluster of this many masters, each with a replica',
    )
    .option(
      '--postgres-ha [mode]',
      'sell on a private Patroni cluster (3 nodes, etcd, HAProxy): sync (default) or async replication',
    )
    .option('--workers <n>', 'serve the crowd from N API processes on one port (serve --workers N)')
    .option('--seed <n>', 'crowd seed: same seed, same crowd', '42')
    .option('--drain-timeout-ms <n>', 'how long to wait for the pipeline to drain', '120000')
    .option('--chaos', 'inject seeded faults during the sale and check what each strategy survives')
    .option('--chaos-runs <n>', 'chaos: seeded runs per strategy (seeds --seed, --seed + 1, …)', '1')
    .option(
      '--faults <list>',
      `chaos: faults to draw from (${FAULT_NAMES.join(', ')})`,
      FAULT_NAMES.join(','),
    )
    .option('--faults-per-run <n>', 'chaos: faults per run', String(CHAOS_DEFAULTS.faultsPerRun))
    .option(
      '--chaos-window-ms <n>',
      'chaos: buyers arrive and faults start within this window',
      String(CHAOS_DEFAULTS.windowMs),
    )
    .option('--apis <n>', 'chaos: api processes (the buyers spread over them)', String(CHAOS_DEFAULTS.apis))
    .option(
      '--report-dir <dir>',
      'where report.json and report.html go',
      `reports/${new Date().toISOString().replace(/[:.]/g, '-')}`,
    )
    .action(async (opts: Record<string, string | undefined>) => {
      const postgresHa = replicationMode(opts.postgresHa);
      if (opts.chaos) return chaosCommand(opts, postgresHa);
      const preset = SCENARIOS[opts.scenario!];
      if (!preset)
        throw new Error(`unknown scenario ${opts.scenario}; use ${Object.keys(SCENARIOS).join(', ')}`);
      const pick = (key: string, fallback: number | undefined) =>
        opts[key] !== undefined ? number(opts[key]!) : fallback;
      const admissionModes = opts.compareAdmission
        ? admissionModeList(opts.compareAdmission)
        : preset.admissionModes;
      const stock = pick('stock', preset.stock)!;
      const options: SimOptions = {
        scenario: opts.compareAdmission ? 'compare-admission' : opts.scenario!,
        strategies: strategyList(opts.compare ?? opts.strategy!),
        stock,
        segments: pick('segments', preset.segments)!,
        // A room's crowd: 20 visitors per unit unless --users says otherwise.
        users: pick('users', admissionModes ? stock * ADMISSION_DEFAULTS.visitorsPerUnit : preset.users)!,
        admissionModes,
        admissionCrowd: admissionCrowdFlags(opts),
        requests: pick('requests', preset.requests)!,
        connections: pick('concurrency', preset.connections)!,
        ratePerSec: pick('rate', preset.ratePerSec),
        duplicateRatio: pick('duplicates', preset.duplicateRatio)!,
        payRatio: pick('payRatio', preset.payRatio)!,
        paymentTimeoutMs: pick('paymentTimeoutMs', preset.paymentTimeoutMs)!,
        userRateLimit: pick('userRateLimit', preset.userRateLimit)!,
        seed: number(opts.seed!),
        drainTimeoutMs: number(opts.drainTimeoutMs!),
        buyerAuth: buyerAuthMode(opts.buyerAuth!),
        redisCluster: pick('redisCluster', undefined),
        // A room's crowd is served by an api process of its own, so that the load generator's work (thousands of
        // visitors polling) does not sit in the event loop whose latencies it measures.
        workers: pick('workers', admissionModes ? 1 : undefined),
        postgresHa,
        progress: progressWriter(process.stderr),
      };
      const report = await simulate(options);
      process.stderr.write('\n');
      console.log(renderTable(report));
      const files = await writeReportFiles(report, opts.reportDir!);
      console.log(`\nreport: ${files.jsonPath}\n        ${files.htmlPath}`);
      const failed = report.runs.filter((run) => run.verdict === 'fail');
      if (failed.length) {
        console.error(
          `\nFAIL: safe strategies ended unbalanced: ${failed.map((run) => run.strategy).join(', ')}`,
        );
        process.exitCode = 1;
      }
    });
}

async function chaosCommand(
  opts: Record<string, string | undefined>,
  postgresHa: ReplicationMode | undefined,
): Promise<void> {
  const pick = (key: string, fallback: number) => (opts[key] !== undefined ? number(opts[key]!) : fallback);
  const options: ChaosOptions = {
    strategies: strategyList(opts.compare ?? opts.strategy!),
    runs: number(opts.chaosRuns!),
    seed: number(opts.seed!),
    faults: faultsNamed(opts.faults!.split(',').map((name) => name.trim())),
    faultsPerRun: number(opts.faultsPerRun!),
    stock: pick('stock', CHAOS_DEFAULTS.stock),
    segments: pick('segments', CHAOS_DEFAULTS.segments),
    users: pick('users', CHAOS_DEFAULTS.users),
    payRatio: pick('payRatio', CHAOS_DEFAULTS.payRatio),
    paymentTimeoutMs: pick('paymentTimeoutMs', CHAOS_DEFAULTS.paymentTimeoutMs),
    windowMs: number(opts.chaosWindowMs!),
    drainTimeoutMs: number(opts.drainTimeoutMs!),
    apis: Math.max(1, number(opts.apis!)),
    postgresHa,
    progress: (line) => process.stderr.write(`${line}\n`),
  };
  const report = await runChaos(options);
  console.log(`\n${renderChaosTable(report)}`);
  const files = await writeChaosReportFiles(report, opts.reportDir!);
  console.log(`report: ${files.jsonPath}\n        ${files.htmlPath}`);
  const failed = report.summary.filter((row) => row.expectedSafe && row.violations > 0);
  if (failed.length) {
    console.error(
      `\nFAIL: safe strategies failed chaos checks: ${failed.map((row) => row.strategy).join(', ')}`,
    );
    process.exitCode = 1;
  }
}

const LOG_PROGRESS_EVERY_MS = 5000;

/**
 * A line starting with a newline is a heading; any other is a progress update. On a terminal an update overwrites the
 * last one; in a log (CI, a file) each is a line of its own, at most one every 5 s (carriage returns would run them
 * all into one line).
 */
function progressWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let lastUpdateAt = 0;
  return (line) => {
    if (line.startsWith('\n')) stream.write(`${line}\n`);
    else if (stream.isTTY) stream.write(`\r${line}`);
    else if (Date.now() - lastUpdateAt >= LOG_PROGRESS_EVERY_MS) {
      lastUpdateAt = Date.now();
      stream.write(`${line}\n`);
    }
  };
}
