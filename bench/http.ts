/**
 * What the service costs over a bare express app on `POST /seckill`, what group commit buys over the old
 * one-Prisma-transaction-per-order write, how fast the outbox relay and the consumer drain, and how fast each stock
 * strategy sells out one hot item — all in one run, on one machine, with one load generator (autocannon).
 *   npm run bench                   everything below
 *   npm run bench:throughput        throughput targets and the pipeline drain only (tsx bench/http.ts --only …)
 *   npm run bench:sellout           the sell-out race only
 *   sizes: the BENCH_* environment variables in `settings` below
 *
 * Every figure is a ratio against a baseline measured in the same run. The throughput targets are measured in
 * BENCH_ROUNDS interleaved rounds (the order rotates each round), so slow drift in the machine's background load
 * (this one is shared) hits every target alike; the per-round ratios are printed as the noise.
 *
 * The servers (the baseline app, the per-order baseline and the service's api role) run together in a child process
 * and autocannon runs in this one. In one process the load generator would share the event loop with the server under
 * test, and its fixed cost per request would pull every ratio towards 1×. The pipeline (the embedded broker, the relay,
 * the consumer, the expiry worker) runs in a process of its own, as it is deployed: the purchase path's event loop
 * serves purchases, while the pipeline's work still shares the machine's cores.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { loadConfig, STRATEGY_NAMES, type StrategyName } from '../src/config';
import { createLogger } from '../src/infra/logger';
import { buildService, ROLES } from '../src/service';
import { startSimBackends } from '../src/sim/backends';
import { startPerOrderBaseline } from './per-order-baseline';
import {
  createSale,
  createSoldOutSale,
  distinctUserRequests,
  positiveInt,
  runAutocannon,
  startBareExpress,
  strategiesFromEnv,
  urlOf,
  waitForPipelineDrain,
} from './service-client';
import { REPORT_FLAG, type DrainReport } from './pipeline-drain';

const CHILD_FLAG = '--bench-targets-child';
const PIPELINE_FLAG = '--bench-pipeline-child';
const PIPELINE_ROLES = ROLES.filter((role) => role !== 'api');

const PARTS = ['throughput', 'drain', 'sellout'] as const;
type Part = (typeof PARTS)[number];

/** `--only throughput,drain` runs those parts; no flag runs them all. */
function selectedParts(argv: string[]): Set<Part> {
  const at = argv.indexOf('--only');
  if (at < 0) return new Set(PARTS);
  const names = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = names.filter((name) => !(PARTS as readonly string[]).includes(name));
  if (!names.length || unknown.length) throw new Error(`--only takes a comma list of ${PARTS.join(', ')}`);
  return new Set(names as Part[]);
}

const settings = {
  connections: positiveInt('BENCH_CONNECTIONS', 32),
  durationSec: positiveInt('BENCH_DURATION_S', 5),
  warmupSec: positiveInt('BENCH_WARMUP_S', 2),
  rounds: positiveInt('BENCH_ROUNDS', 2),
  // Large enough that the purchase path never reaches sold-out inside the measured window.
  purchaseStock: positiveInt('BENCH_PURCHASE_STOCK', 10_000_000),
  segments: positiveInt('BENCH_SEGMENTS', 8),
  drainOrders: positiveInt('BENCH_DRAIN_ORDERS', 10_000),
  sellOutStock: positiveInt('BENCH_SELLOUT_STOCK', 10_000),
  sellOutUsers: positiveInt('BENCH_SELLOUT_USERS', 100_000),
  sellOutConnections: positiveInt('BENCH_SELLOUT_CONNECTIONS', 64),
  /** A single sell-out crowd is given up on after this long, so a stuck strategy cannot eat the whole budget. */
  sellOutCapSec: positiveInt('BENCH_SELLOUT_CAP_S', 180),
  /** 1: every buyer is sent even after the sale sold out (see sellOutCrowd); default: stop at the sell-out. */
  sellOutWholeCrowd: process.env.BENCH_SELLOUT_WHOLE_CROWD === '1',
  timeLimitSec: positiveInt('BENCH_TIME_LIMIT_S', 1_500),
};

/** The goals of issue 9, printed next to their figures (never asserted: this machine is shared and noisy). */
const GOALS = {
  purchaseVsPerOrder: 5,
  purchaseVsExpress: 0.5,
  soldOutVsExpress: 0.9,
  relayPerSec: 10_000,
};

/** The throughput targets use the service's default strategy; the sell-out race compares all of them. */
const THROUGHPUT_STRATEGY = strategyFromEnv('BENCH_STRATEGY', 'segmented-lock');

function strategyFromEnv(name: string, fallback: StrategyName): StrategyName {
  const raw = process.env[name] || fallback;
  if (!(STRATEGY_NAMES as readonly string[]).includes(raw))
    throw new Error(`${name} must be one of ${STRATEGY_NAMES.join(', ')}`);
  return raw as StrategyName;
}
/** `BENCH_SELLOUT_STRATEGIES=segmented-lock,lua` races only those (default: every strategy). */
const SELLOUT_STRATEGIES = strategiesFromEnv('BENCH_SELLOUT_STRATEGIES', STRATEGY_NAMES);

/** Long enough that no order expires (and gives its unit back) while the bench runs. */
const PAYMENT_TIMEOUT_MS = 3_600_000;
const DRAIN_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------------
// Child process: the servers under test

interface TargetsReady {
  baselineUrl: string;
  perOrderUrl: string;
  serviceUrl: string;
  adminToken: string;
  backends: Record<string, string>;
  /** Strategies this machine cannot run, with why. */
  skipped: Partial<Record<StrategyName, string>>;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections(); // autocannon's keep-alive sockets would otherwise hold close() open
  });
}

/**
 * Exiting at once could orphan the private redis-server: backends.stop() signals it without waiting for it, and an
 * orphan is never reaped here. Letting the event loop empty lets Node reap it first; the unref'd timer still ends the
 * process if some handle was left open.
 */
function exitWhenIdle(): void {
  setTimeout(() => process.exit(0), 5_000).unref();
}

async function runTargetsChild(): Promise<void> {
  const stops: (() => Promise<void>)[] = [];
  // Stops in reverse start order: the service before the backends it uses, everything before exiting.
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((err) => console.error('bench: stop failed', err));
  };
  // The parent disconnects to say "done"; it also happens when the parent dies, so nothing is left running.
  process.once('disconnect', () => void stopAll().then(exitWhenIdle));
  try {
    const baseline = await startBareExpress();
    stops.push(() => closeServer(baseline));
    // Every strategy races in the sell-out part: the lock strategies' servers start here too (or are skipped).
    const backends = await startSimBackends(process.env, STRATEGY_NAMES);
    stops.push(() => backends.stop());
    const pipeline = await startChild<{ brokers: string }>(PIPELINE_FLAG, backends.env);
    stops.push(() => stopChild(pipeline.child));
    const config = loadConfig({
      ...process.env,
      ...backends.env,
      KAFKA_BROKERS: pipeline.ready.brokers,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_USER_PER_SEC: '0', // every request is a distinct user anyway; measure the path, not the limiter
      MAX_IN_FLIGHT: '0',
    });
    const service = buildService(config, { log: createLogger(config.logLevel, 'bench') });
    stops.push(() => service.stop());
    const { url, brokers } = await service.start(['api']);
    // Same database, same general pool size as main had, its own Prisma client: see per-order-baseline.ts.
    const perOrder = await startPerOrderBaseline({
      databaseUrl: config.databaseUrl,
      poolSize: config.databasePoolSize,
      redis: service.redis,
      segments: settings.segments,
      log: service.log,
    });
    stops.push(() => perOrder.stop());
    const ready: TargetsReady = {
      baselineUrl: urlOf(baseline),
      perOrderUrl: urlOf(perOrder.server),
      serviceUrl: url!,
      adminToken: service.adminToken,
      backends: { ...backends.describe, kafka: `${backends.describe.kafka} ${brokers?.join(',') ?? ''}` },
      skipped: backends.skipped,
    };
    process.send!(ready);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The broker and every role but api, on the targets' backends; says where the broker listens. */
async function runPipelineChild(): Promise<void> {
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn' });
  const service = buildService(config, { log: createLogger(config.logLevel, 'bench-pipeline') });
  process.once('disconnect', () => void service.stop().then(exitWhenIdle));
  const { brokers } = await service.start(PIPELINE_ROLES);
  process.send!({ brokers: brokers!.join(',') });
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to the targets

/** This file again in a child process (`flag` says which part it plays); resolves with its first message. */
async function startChild<T>(
  flag: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; ready: T }> {
  const child = fork(__filename, [flag], { execArgv: process.execArgv, env: { ...process.env, ...env } });
  const ready = await new Promise<T>((resolve, reject) => {
    child.once('message', (message) => resolve(message as T));
    child.once('exit', (code) => reject(new Error(`${flag} process exited (${code}) before it was ready`)));
  });
  return { child, ready };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.disconnect();
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(killer);
}

const admin = (targets: TargetsReady) => ({ serviceUrl: targets.serviceUrl, adminToken: targets.adminToken });

function createBenchSale(targets: TargetsReady, strategy: StrategyName, stock: number): Promise<string> {
  return createSale(admin(targets), {
    name: `bench ${strategy} ${stock}`,
    stock,
    segments: settings.segments,
    strategy,
    paymentTimeoutMs: PAYMENT_TIMEOUT_MS,
  });
}

/**
 * Orders from one measurement keep the outbox relay and the consumer busy for a while after it; waiting for them
 * keeps that work out of the next measurement. Returns how long it took, or null when it did not drain in time.
 */
async function waitForDrain(targets: TargetsReady): Promise<number | null> {
  return (await waitForPipelineDrain(targets.serviceUrl, { timeoutMs: DRAIN_TIMEOUT_MS, pollMs: 200 })).ms;
}

// ---------------------------------------------------------------------------------------------------------------
// Throughput: bare express, sold-out path, purchase path, per-order Prisma baseline

type TargetKey = 'express' | 'soldOut' | 'purchase' | 'perOrder';

interface ThroughputTarget {
  key: TargetKey;
  name: string;
  url: string;
  itemId: string;
  expectedStatus: number;
  /** Shared by every warm-up and measurement of the target, so each request names a user never seen before. */
  requests: autocannon.Request[];
}

interface ThroughputRow {
  target: ThroughputTarget;
  /** One per round. */
  results: autocannon.Result[];
}

async function measureOnce(target: ThroughputTarget): Promise<autocannon.Result> {
  const run = (durationSec: number) =>
    runAutocannon({
      url: `${target.url}/seckill`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      connections: settings.connections,
      pipelining: 1,
      duration: durationSec,
      requests: target.requests,
    });
  await run(settings.warmupSec); // JIT, connection pools, caches: discarded
  return run(settings.durationSec);
}

async function measureThroughputs(targets: TargetsReady): Promise<ThroughputRow[]> {
  const soldOutItem = await createSoldOutSale(admin(targets), {
    name: 'bench sold out',
    segments: settings.segments,
    strategy: THROUGHPUT_STRATEGY,
    paymentTimeoutMs: PAYMENT_TIMEOUT_MS,
  });
  const purchaseItem = await createBenchSale(targets, THROUGHPUT_STRATEGY, settings.purchaseStock);
  const target = (key: TargetKey, name: string, url: string, itemId: string, expectedStatus: number) => ({
    key,
    name,
    url,
    itemId,
    expectedStatus,
    requests: distinctUserRequests(name, itemId),
  });
  const rows: ThroughputRow[] = [
    target('express', 'bare express (parses the JSON)', targets.baselineUrl, soldOutItem, 200),
    target('soldOut', 'seckill sold-out', targets.serviceUrl, soldOutItem, 410),
    target('purchase', 'seckill purchase', targets.serviceUrl, purchaseItem, 201),
    // The same item as the purchase path: both write to the same tables and indexes.
    target('perOrder', 'baseline: 1 Prisma tx per order', targets.perOrderUrl, purchaseItem, 201),
  ].map((t) => ({ target: t, results: [] }));
  progress(
    "the per-order baseline writes orders on the purchase item behind the ledger, so the worker's repair sweep " +
      'logs "Redis stock put right from the ledger" for that item: expected here',
  );
  for (let round = 0; round < settings.rounds; round++) {
    // Rotated each round, so no target always runs first (fresh tables) or right after the heaviest one.
    const order = rows.map((_, i) => rows[(i + round) % rows.length]);
    for (const row of order) {
      await reportDrain(targets, row.target.name);
      progress(
        `round ${round + 1}/${settings.rounds} ${row.target.name}: ` +
          `${settings.warmupSec} s warm-up + ${settings.durationSec} s measured`,
      );
      row.results.push(await measureOnce(row.target));
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Pipeline drain: bench/pipeline-drain.ts in a process of its own (its own backends), reporting over IPC

function measureDrain(): Promise<DrainReport> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'pipeline-drain.ts'), [REPORT_FLAG], {
      execArgv: process.execArgv,
      env: { ...process.env, ORDERS: String(settings.drainOrders) },
    });
    let report: DrainReport | undefined;
    child.once('message', (message) => (report = message as DrainReport));
    child.once('error', reject);
    child.once('exit', (code) =>
      report ? resolve(report) : reject(new Error(`pipeline drain exited (${code}) without a report`)),
    );
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Sell-out race: one hot item per strategy, the default strategy once more at the end to show the noise

interface SellOutCrowd {
  /** From the first request to the first `sold_out` answer (as the simulator defines it); null: never. */
  timeToSellOutMs: number | null;
  sent: number;
  ratePerSec: number;
  p99Ms: number;
  answers: { ordered: number; sold_out: number; busy: number; other: number };
  errors: number;
  truncated: boolean;
}

/**
 * A crowd of `users` distinct buyers on `connections` connections (closed model, pipelining 1), stopped at the
 * first sold_out answer unless BENCH_SELLOUT_WHOLE_CROWD=1. In a closed model the requests sent before the sell-out
 * are the same whatever the crowd's size, so the buyers after it cannot change the sell-out time: they would only
 * measure the sold-out path, which the throughput part measures. The database's count (from /stats) says how many
 * orders the sale really ended with.
 */
function sellOutCrowd(url: string, itemId: string, userPrefix: string): Promise<SellOutCrowd> {
  return new Promise((resolve, reject) => {
    let next = 0;
    const answers = { ordered: 0, sold_out: 0, busy: 0, other: 0 };
    let timeToSellOutMs: number | null = null;
    let truncated = false;
    const started = performance.now();
    const instance = autocannon(
      {
        url: `${url}/seckill`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        connections: settings.sellOutConnections,
        pipelining: 1,
        amount: settings.sellOutUsers,
        requests: [
          {
            setupRequest: (request) => ({
              ...request,
              body: JSON.stringify({ userId: `${userPrefix}${next++}`, itemId }),
            }),
          },
        ],
      },
      (err: unknown, result: autocannon.Result) => {
        clearTimeout(cap);
        if (err) return reject(err);
        const sent = Math.min(next, settings.sellOutUsers);
        resolve({
          timeToSellOutMs,
          sent,
          ratePerSec: (result.requests.total / (performance.now() - started)) * 1000,
          p99Ms: result.latency.p99,
          answers,
          errors: result.errors + result.timeouts,
          truncated,
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number) => {
      if (statusCode === 201) answers.ordered++;
      else if (statusCode === 503) answers.busy++;
      else if (statusCode !== 410) answers.other++;
      else {
        answers.sold_out++;
        if (timeToSellOutMs === null) {
          timeToSellOutMs = performance.now() - started;
          if (!settings.sellOutWholeCrowd) instance.stop();
        }
      }
    });
    const cap = setTimeout(() => {
      truncated = true;
      instance.stop();
    }, settings.sellOutCapSec * 1000);
  });
}

interface SellOutRow {
  strategy: StrategyName;
  run: number;
  crowd: SellOutCrowd;
  /** The sale's figures from /stats once the pipeline drained. */
  stats?: { activeOrders: number; oversell: number; undersell: number };
}

async function itemStats(targets: TargetsReady, itemId: string): Promise<SellOutRow['stats']> {
  const stats = (await (await fetch(`${targets.serviceUrl}/stats`)).json()) as {
    items: { itemId: string; activeOrders: number; oversell: number; undersell: number }[];
  };
  const item = stats.items.find((i) => String(i.itemId) === itemId);
  return item && { activeOrders: item.activeOrders, oversell: item.oversell, undersell: item.undersell };
}

async function measureSellOut(
  targets: TargetsReady,
  strategy: StrategyName,
  run: number,
): Promise<SellOutRow> {
  const itemId = await createBenchSale(targets, strategy, settings.sellOutStock);
  const crowd = await sellOutCrowd(targets.serviceUrl, itemId, `race-${strategy}-${run}-`);
  await reportDrain(targets, `reading the ${strategy} sale's stats`);
  return { strategy, run, crowd, stats: await itemStats(targets, itemId) };
}

async function measureSellOuts(targets: TargetsReady): Promise<SellOutRow[]> {
  // First and last: the two runs of the same strategy bracket the others, so their spread includes the drift.
  for (const [strategy, reason] of Object.entries(targets.skipped))
    progress(`sell-out ${strategy} skipped: ${reason}`);
  const plan = [...SELLOUT_STRATEGIES.filter((s) => !targets.skipped[s]), THROUGHPUT_STRATEGY];
  // Discarded: the first crowd of the process would otherwise pay for JIT and cold pools.
  progress(`sell-out warm-up (discarded): ${THROUGHPUT_STRATEGY}`);
  await measureSellOut(targets, THROUGHPUT_STRATEGY, 0);
  const rows: SellOutRow[] = [];
  for (const strategy of plan) {
    const run = rows.filter((row) => row.strategy === strategy).length + 1;
    await reportDrain(targets, strategy);
    progress(
      `sell-out ${strategy} #${run}: ${whole(settings.sellOutUsers)} users for ${whole(settings.sellOutStock)} units`,
    );
    rows.push(await measureSellOut(targets, strategy, run));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function progress(line: string): void {
  console.log(`  … ${line}`);
}

async function reportDrain(targets: TargetsReady, next: string): Promise<void> {
  const waitedMs = await waitForDrain(targets);
  if (waitedMs === null)
    progress(`pipeline still busy after ${DRAIN_TIMEOUT_MS} ms; measuring ${next} anyway`);
  else if (waitedMs > 500) progress(`waited ${waitedMs} ms for the outbox/consumer to drain before ${next}`);
}

/** Numbers are right-aligned; the columns in `textColumns` (the row's name, free text) are left-aligned. */
function formatTable(header: string[], rows: string[][], textColumns: readonly number[] = [0]): string {
  const widths = header.map((_, column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        textColumns.includes(column) ? cell.padEnd(widths[column]) : cell.padStart(widths[column]),
      )
      .join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

const times = (value: number, digits = 2) => `${value.toFixed(digits)}×`;
const ratio = (value: number, reference: number) => (reference > 0 ? times(value / reference) : '-');
const whole = (value: number) => Math.round(value).toLocaleString('en');
const ms = (value: number) => value.toFixed(1);
const percent = (value: number) => `${(value * 100).toFixed(1)} %`;
const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

function goalLine(label: string, figure: string, goal: string, met: boolean, detail = ''): string {
  return `  ${label.padEnd(34)} ${figure.padStart(13)}  (goal ${goal})  ${met ? 'met' : 'MISSED'}${detail}`;
}

function printHeader(targets: TargetsReady, parts: Set<Part>): void {
  const cpus = os.cpus();
  console.log('\nseckill bench');
  console.log(
    `node ${process.version}, ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'}), ${os.platform()}, ` +
      `load average at start ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  for (const [name, description] of Object.entries(targets.backends))
    console.log(`${name.padEnd(8)} ${description}`);
  if (parts.has('throughput'))
    console.log(
      `throughput: ${settings.connections} connections, pipelining 1, ${settings.rounds} interleaved rounds of ` +
        `${settings.warmupSec} s warm-up + ${settings.durationSec} s measured per target, strategy ` +
        `${THROUGHPUT_STRATEGY}, purchase stock ${whole(settings.purchaseStock)} in ${settings.segments} segments, ` +
        'every request a new user',
    );
  if (parts.has('drain'))
    console.log(
      `drain:      ${whole(settings.drainOrders)} orders through bench/pipeline-drain.ts (own backends)`,
    );
  if (parts.has('sellout'))
    console.log(
      `sell-out:   ${whole(settings.sellOutStock)} units in ${settings.segments} segments, ` +
        `${whole(settings.sellOutUsers)} distinct users, ${settings.sellOutConnections} connections, ` +
        `each crowd capped at ${settings.sellOutCapSec} s and ` +
        (settings.sellOutWholeCrowd
          ? 'sent whole'
          : 'stopped at its first sold_out (BENCH_SELLOUT_WHOLE_CROWD=1: whole)'),
    );
  console.log(
    'load generator: autocannon in the parent process; the servers under test share a child process; the broker, ' +
      'relay, consumer and expiry worker run in another\n',
  );
}

function printThroughput(rows: ThroughputRow[]): void {
  const rate = (row: ThroughputRow) => mean(row.results.map((r) => r.requests.average));
  const byKey = (key: TargetKey) => rows.find((row) => row.target.key === key)!;
  const express = byKey('express');
  const body = rows.map((row) => {
    const { target, results } = row;
    const count = (pick: (r: autocannon.Result) => number) => results.reduce((sum, r) => sum + pick(r), 0);
    const expected = count((r) => r.statusCodeStats?.[`${target.expectedStatus}`]?.count ?? 0);
    const answered = count((r) =>
      Object.values(r.statusCodeStats ?? {}).reduce((sum, s) => sum + (s.count ?? 0), 0),
    );
    return [
      target.name,
      whole(rate(row)),
      results.map((r) => whole(r.requests.average)).join(' / '),
      ratio(rate(row), rate(express)),
      ms(mean(results.map((r) => r.latency.p50))),
      ms(Math.max(...results.map((r) => r.latency.p99))),
      `${whole(expected)} (${target.expectedStatus})`,
      whole(answered - expected),
      whole(count((r) => r.errors)),
    ];
  });
  const header = [
    'target',
    'req/s',
    'per round',
    'vs express',
    'p50 ms',
    'p99 ms (max)',
    'expected',
    'other',
    'errors',
  ];
  console.log(`\n${formatTable(header, body)}\n`);

  // A ratio per round (both targets measured in that round, minutes apart at most) shows how much the figure moves.
  const goal = (label: string, key: TargetKey, reference: TargetKey, target: number) => {
    const value = rate(byKey(key)) / rate(byKey(reference));
    const perRound = byKey(key).results.map(
      (r, i) => r.requests.average / byKey(reference).results[i].requests.average,
    );
    const detail = `   per round ${perRound.map((r) => times(r)).join(', ')}`;
    console.log(goalLine(label, times(value), `≥ ${target}×`, value >= target, detail));
  };
  console.log('goals (mean req/s over the rounds; per-round ratios show the noise)');
  goal('purchase vs per-order Prisma tx:', 'purchase', 'perOrder', GOALS.purchaseVsPerOrder);
  goal('purchase vs bare express:', 'purchase', 'express', GOALS.purchaseVsExpress);
  goal('sold-out vs bare express:', 'soldOut', 'express', GOALS.soldOutVsExpress);
  console.log('');
}

function printDrain(report: DrainReport): void {
  console.log(`\npipeline drain, ${whole(report.orders)} orders (table above from bench/pipeline-drain.ts)`);
  console.log(
    goalLine(
      'relay msg/s (steady):',
      whole(report.relay.steadyPerSec),
      `≥ ${whole(GOALS.relayPerSec)}`,
      report.relay.steadyPerSec >= GOALS.relayPerSec,
      `   incl. ${whole(report.relay.startupMs)} ms start-up: ${whole(report.relay.totalPerSec)}; ` +
        `raw kafkajs produce ${whole(report.baselinePerSec)} (${ratio(report.relay.steadyPerSec, report.baselinePerSec)})`,
    ),
  );
  console.log(
    `  ${'consumer msg/s (steady):'.padEnd(34)} ${whole(report.consumer.steadyPerSec).padStart(13)}  ` +
      `(no goal)   incl. ${whole(report.consumer.startupMs)} ms group join: ${whole(report.consumer.totalPerSec)}; ` +
      `${ratio(report.consumer.steadyPerSec, report.baselinePerSec)} raw produce\n`,
  );
}

function printSellOuts(rows: SellOutRow[]): void {
  const repeats = rows.filter((row) => row.strategy === THROUGHPUT_STRATEGY);
  const repeatTimes = repeats.map((row) => row.crowd.timeToSellOutMs).filter((t): t is number => t !== null);
  const reference = repeatTimes.length ? mean(repeatTimes) : 0;
  // Spread of the repeated strategy: (max − min) / mean of its runs.
  const noise =
    repeatTimes.length >= 2 ? (Math.max(...repeatTimes) - Math.min(...repeatTimes)) / reference : undefined;
  const body = rows.map(({ strategy, run, crowd, stats }) => {
    const sellOut = crowd.timeToSellOutMs;
    const gap = sellOut === null || !reference ? undefined : Math.abs(sellOut - reference) / reference;
    const beyondNoise =
      strategy === THROUGHPUT_STRATEGY || gap === undefined || noise === undefined
        ? '-'
        : gap > noise
          ? 'yes'
          : 'no';
    const oversold = stats ? stats.activeOrders - settings.sellOutStock : 0;
    return [
      `${strategy} #${run}`,
      sellOut === null ? 'never' : whole(sellOut),
      sellOut === null || !reference ? '-' : ratio(sellOut, reference),
      beyondNoise,
      whole(crowd.sent),
      whole(crowd.ratePerSec),
      whole(crowd.answers.ordered),
      whole(crowd.answers.busy),
      whole(crowd.answers.other + crowd.errors),
      ms(crowd.p99Ms),
      stats ? whole(stats.activeOrders) : '?',
      stats ? whole(stats.undersell) : '?',
      [
        oversold > 0
          ? `OVERSOLD by ${whole(oversold)}${strategy === 'naive' ? ' (naive: no lock, by design)' : ''}`
          : '',
        crowd.truncated ? 'cut at time cap' : '',
      ]
        .filter(Boolean)
        .join(', '),
    ];
  });
  const header = [
    'run',
    'sell-out ms',
    `vs ${THROUGHPUT_STRATEGY}`,
    'gap > noise',
    'sent',
    'req/s',
    '201',
    '503',
    'other/err',
    'p99 ms',
    'db orders',
    'undersell',
    'note',
  ];
  console.log(`\n${formatTable(header, body, [0, header.length - 1])}\n`);
  console.log(
    `run-to-run noise: ${THROUGHPUT_STRATEGY} ran first and last: ` +
      `${repeats.map((row) => (row.crowd.timeToSellOutMs === null ? 'never' : `${whole(row.crowd.timeToSellOutMs)} ms`)).join(' and ')}` +
      (noise === undefined ? '' : `, spread ${percent(noise)} of their mean`) +
      `; "vs ${THROUGHPUT_STRATEGY}" divides by that mean, "gap > noise" says whether |gap| exceeds the spread\n`,
  );
}

// ---------------------------------------------------------------------------------------------------------------

async function runHttpParts(parts: Set<Part>): Promise<void> {
  const { child, ready: targets } = await startChild<TargetsReady>(CHILD_FLAG);
  try {
    printHeader(targets, parts);
    if (parts.has('throughput')) printThroughput(await measureThroughputs(targets));
    if (parts.has('sellout')) printSellOuts(await measureSellOuts(targets));
  } finally {
    await stopChild(child);
  }
}

async function main(): Promise<void> {
  const parts = selectedParts(process.argv);
  const deadline = setTimeout(() => {
    console.error(`bench: gave up after ${settings.timeLimitSec} s`);
    process.exit(1); // the children see the disconnect and stop their servers and backends
  }, settings.timeLimitSec * 1000);
  try {
    if (parts.has('throughput') || parts.has('sellout')) await runHttpParts(parts);
    // After the HTTP servers are gone, so the drain has the machine to itself.
    if (parts.has('drain')) {
      progress(`pipeline drain: ${whole(settings.drainOrders)} orders`);
      printDrain(await measureDrain());
    }
  } finally {
    clearTimeout(deadline);
  }
}

const fail = (error: unknown) => {
  console.error(error);
  process.exit(1);
};
if (process.argv.includes(CHILD_FLAG)) runTargetsChild().catch(fail);
else if (process.argv.includes(PIPELINE_FLAG)) runPipelineChild().catch(fail);
else main().catch(fail);
