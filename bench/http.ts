/**
 * What the service costs over a bare express app on `POST /seckill`, and how fast each stock strategy sells out
 * one hot item — all in one run, on one machine, with one load generator (autocannon).
 *   npm run bench          sizes: the BENCH_* environment variables in `settings` below
 *
 * The servers (the baseline app and the service with every role) run together in a child process and autocannon
 * runs in this one. In one process the load generator would share the event loop with the server under test, and
 * its fixed cost per request would pull every ratio towards 1×.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import os from 'node:os';
import autocannon from 'autocannon';
import express from 'express';
import { loadConfig, STRATEGY_NAMES, type StrategyName } from '../src/config';
import { createLogger } from '../src/infra/logger';
import { buildService, ROLES } from '../src/service';
import { startSimBackends } from '../src/sim/backends';
import { driveCrowd, type CrowdResult } from '../src/sim/load-driver';

const CHILD_FLAG = '--bench-targets-child';

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be an integer >= 1, got "${raw}"`);
  return value;
}

const settings = {
  connections: positiveInt('BENCH_CONNECTIONS', 32),
  durationSec: positiveInt('BENCH_DURATION_S', 8),
  warmupSec: positiveInt('BENCH_WARMUP_S', 2),
  // Large enough that the purchase path never reaches sold-out inside the measured window.
  purchaseStock: positiveInt('BENCH_PURCHASE_STOCK', 10_000_000),
  segments: positiveInt('BENCH_SEGMENTS', 8),
  sellOutStock: positiveInt('BENCH_SELLOUT_STOCK', 2_000),
  sellOutUsers: positiveInt('BENCH_SELLOUT_USERS', 6_000),
  sellOutConnections: positiveInt('BENCH_SELLOUT_CONNECTIONS', 64),
  timeLimitSec: positiveInt('BENCH_TIME_LIMIT_S', 300),
};

/** The throughput targets use the service's default strategy; the sell-out race compares all of them. */
const THROUGHPUT_STRATEGY: StrategyName = 'segmented-lock';
/** Long enough that no order expires (and gives its unit back) while the bench runs. */
const PAYMENT_TIMEOUT_MS = 3_600_000;
/** A single sell-out crowd is given up on after this long, so a stuck strategy cannot eat the whole budget. */
const SELL_OUT_CAP_MS = 60_000;
const DRAIN_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------------
// Child process: the servers under test

interface TargetsReady {
  baselineUrl: string;
  serviceUrl: string;
  adminToken: string;
  backends: Record<string, string>;
}

function startBaseline(): Promise<Server> {
  const app = express();
  app.use(express.json({ limit: '8kb' }));
  app.post('/seckill', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections(); // autocannon's keep-alive sockets would otherwise hold close() open
  });
}

function urlOf(server: Server): string {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('baseline server has no TCP address');
  return `http://127.0.0.1:${address.port}`;
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
    const baseline = await startBaseline();
    stops.push(() => closeServer(baseline));
    const backends = await startSimBackends(process.env);
    stops.push(() => backends.stop());
    const config = loadConfig({
      ...process.env,
      ...backends.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      RATE_LIMIT_USER_PER_SEC: '0', // every request is a distinct user anyway; measure the path, not the limiter
      MAX_IN_FLIGHT: '0',
    });
    const service = buildService(config, { log: createLogger(config.logLevel, 'bench') });
    stops.push(() => service.stop());
    const { url, brokers } = await service.start(ROLES);
    const ready: TargetsReady = {
      baselineUrl: urlOf(baseline),
      serviceUrl: url!,
      adminToken: service.adminToken,
      backends: { ...backends.describe, kafka: `${backends.describe.kafka} ${brokers?.join(',') ?? ''}` },
    };
    process.send!(ready);
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to the targets

function startTargets(): { child: ChildProcess; ready: Promise<TargetsReady> } {
  const child = fork(__filename, [CHILD_FLAG], { execArgv: process.execArgv });
  const ready = new Promise<TargetsReady>((resolve, reject) => {
    child.once('message', (message) => resolve(message as TargetsReady));
    child.once('exit', (code) => reject(new Error(`targets process exited (${code}) before it was ready`)));
  });
  return { child, ready };
}

async function stopTargets(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.disconnect();
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(killer);
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Through the admin route, i.e. service.sales.create in the child: the sale is cached where it is served. */
async function createSale(targets: TargetsReady, strategy: StrategyName, stock: number): Promise<string> {
  const created = await postJson(
    `${targets.serviceUrl}/admin/sales`,
    {
      name: `bench ${strategy} ${stock}`,
      stock,
      segments: settings.segments,
      strategy,
      paymentTimeoutMs: PAYMENT_TIMEOUT_MS,
    },
    { authorization: `Bearer ${targets.adminToken}` },
  );
  if (created.status !== 201)
    throw new Error(`creating a sale failed: ${created.status} ${JSON.stringify(created.body)}`);
  return String(created.body.itemId);
}

async function createSoldOutSale(targets: TargetsReady): Promise<string> {
  const itemId = await createSale(targets, THROUGHPUT_STRATEGY, 1);
  const bought = await postJson(`${targets.serviceUrl}/seckill`, { userId: 'first-buyer', itemId });
  if (bought.status !== 201) throw new Error(`buying the only unit failed: ${bought.status}`);
  return itemId;
}

/**
 * Orders from one measurement keep the outbox relay and the consumer busy for a while after it; waiting for them
 * keeps that work out of the next measurement. Returns how long it took, or null when it did not drain in time.
 */
async function waitForPipelineDrain(targets: TargetsReady): Promise<number | null> {
  const started = Date.now();
  while (Date.now() - started < DRAIN_TIMEOUT_MS) {
    const stats = (await (await fetch(`${targets.serviceUrl}/stats`)).json()) as {
      items: { outboxPending: number; consumerLag: number }[];
    };
    if (stats.items.every((item) => item.outboxPending === 0 && item.consumerLag === 0))
      return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Throughput: baseline, sold-out path, purchase path

interface ThroughputTarget {
  name: string;
  url: string;
  itemId: string;
  expectedStatus: number;
}

interface ThroughputRow {
  target: ThroughputTarget;
  result: autocannon.Result;
}

/** One autocannon request template whose every request names a user no earlier request of this target named. */
function distinctUserRequests(target: ThroughputTarget): autocannon.Request[] {
  const prefix = target.name.replace(/[^A-Za-z0-9]+/g, '-');
  let sent = 0;
  return [
    {
      setupRequest: (request) => ({
        ...request,
        body: JSON.stringify({ userId: `${prefix}-${sent++}`, itemId: target.itemId }),
      }),
    },
  ];
}

function runAutocannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err: unknown, result: autocannon.Result) => (err ? reject(err) : resolve(result)));
  });
}

async function measureThroughput(target: ThroughputTarget): Promise<ThroughputRow> {
  // Shared by warm-up and measurement, so the measured users are new ones too.
  const requests = distinctUserRequests(target);
  const run = (durationSec: number) =>
    runAutocannon({
      url: `${target.url}/seckill`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      connections: settings.connections,
      pipelining: 1,
      duration: durationSec,
      requests,
    });
  await run(settings.warmupSec); // JIT, connection pools, caches: discarded
  return { target, result: await run(settings.durationSec) };
}

async function measureThroughputs(targets: TargetsReady): Promise<ThroughputRow[]> {
  const soldOutItem = await createSoldOutSale(targets);
  const purchaseItem = await createSale(targets, THROUGHPUT_STRATEGY, settings.purchaseStock);
  const list: ThroughputTarget[] = [
    { name: 'baseline express', url: targets.baselineUrl, itemId: soldOutItem, expectedStatus: 200 },
    { name: 'seckill sold-out', url: targets.serviceUrl, itemId: soldOutItem, expectedStatus: 410 },
    { name: 'seckill purchase', url: targets.serviceUrl, itemId: purchaseItem, expectedStatus: 201 },
  ];
  const rows: ThroughputRow[] = [];
  for (const target of list) {
    await reportDrain(targets, target.name);
    progress(`${target.name}: ${settings.warmupSec} s warm-up + ${settings.durationSec} s measured`);
    rows.push(await measureThroughput(target));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Sell-out race: one hot item per strategy

interface SellOutRow {
  strategy: StrategyName;
  crowd: CrowdResult;
}

async function measureSellOut(targets: TargetsReady, strategy: StrategyName): Promise<SellOutRow> {
  const itemId = await createSale(targets, strategy, settings.sellOutStock);
  const crowd = await driveCrowd({
    url: targets.serviceUrl,
    itemId,
    users: settings.sellOutUsers,
    requests: settings.sellOutUsers,
    duplicateRatio: 0,
    connections: settings.sellOutConnections,
    userPrefix: `race-${strategy}-`,
    maxDurationMs: SELL_OUT_CAP_MS,
  });
  return { strategy, crowd };
}

async function measureSellOuts(targets: TargetsReady): Promise<SellOutRow[]> {
  const rows: SellOutRow[] = [];
  for (const strategy of STRATEGY_NAMES) {
    await reportDrain(targets, strategy);
    progress(`sell-out ${strategy}: ${settings.sellOutUsers} users for ${settings.sellOutStock} units`);
    rows.push(await measureSellOut(targets, strategy));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function progress(line: string): void {
  console.log(`  … ${line}`);
}

async function reportDrain(targets: TargetsReady, next: string): Promise<void> {
  const waitedMs = await waitForPipelineDrain(targets);
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

const ratio = (value: number, reference: number) =>
  reference > 0 ? `${(value / reference).toFixed(2)}×` : '-';
const whole = (value: number) => Math.round(value).toLocaleString('en');
const ms = (value: number) => value.toFixed(1);

function printHeader(targets: TargetsReady): void {
  const cpus = os.cpus();
  console.log('\nseckill HTTP bench');
  console.log(
    `node ${process.version}, ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'}), ${os.platform()}`,
  );
  for (const [name, description] of Object.entries(targets.backends))
    console.log(`${name.padEnd(8)} ${description}`);
  console.log(
    `throughput: ${settings.connections} connections, pipelining 1, ${settings.warmupSec} s warm-up + ` +
      `${settings.durationSec} s measured per target, strategy ${THROUGHPUT_STRATEGY}, ` +
      `purchase stock ${whole(settings.purchaseStock)} in ${settings.segments} segments, every request a new user`,
  );
  console.log(
    `sell-out:   ${whole(settings.sellOutStock)} units in ${settings.segments} segments, ` +
      `${whole(settings.sellOutUsers)} distinct users, ${settings.sellOutConnections} connections`,
  );
  console.log(
    'load generator: autocannon in the parent process; baseline and service share a child process\n',
  );
}

function printThroughput(rows: ThroughputRow[]): void {
  const baselineRate = rows[0].result.requests.average;
  const body = rows.map(({ target, result }) => {
    const expected = result.statusCodeStats?.[`${target.expectedStatus}`]?.count ?? 0;
    const answered = Object.values(result.statusCodeStats ?? {}).reduce((sum, s) => sum + (s.count ?? 0), 0);
    return [
      target.name,
      whole(result.requests.average),
      ratio(result.requests.average, baselineRate),
      ms(result.latency.p50),
      ms(result.latency.p99),
      `${whole(expected)} (${target.expectedStatus})`,
      whole(answered - expected),
      whole(result.non2xx),
      whole(result.errors),
    ];
  });
  const header = ['target', 'req/s', 'vs base', 'p50 ms', 'p99 ms', 'expected', 'other', 'non-2xx', 'errors'];
  console.log(`\n${formatTable(header, body)}\n`);
}

function printSellOuts(rows: SellOutRow[]): void {
  const reference = rows.find((row) => row.strategy === 'segmented-lock')?.crowd.timeToSellOutMs ?? 0;
  const body = rows.map(({ strategy, crowd }) => {
    const sellOut = crowd.timeToSellOutMs;
    const oversold = crowd.outcomes.ordered - settings.sellOutStock;
    return [
      strategy,
      sellOut === null ? 'never' : whole(sellOut),
      sellOut === null ? '-' : ratio(sellOut, reference),
      whole(crowd.ratePerSec),
      whole(crowd.outcomes.ordered),
      whole(crowd.outcomes.sold_out),
      whole(crowd.outcomes.busy),
      whole(crowd.outcomes.errors),
      ms(crowd.latencyMs.p99),
      [oversold > 0 ? `OVERSOLD by ${whole(oversold)}` : '', crowd.truncated ? 'cut at time cap' : '']
        .filter(Boolean)
        .join(', '),
    ];
  });
  const header = [
    'strategy',
    'sell-out ms',
    'vs seg-lock',
    'req/s',
    'ordered',
    'sold_out',
    'busy',
    'errors',
    'p99 ms',
    'note',
  ];
  console.log(`\n${formatTable(header, body, [0, header.length - 1])}\n`);
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { child, ready } = startTargets();
  const deadline = setTimeout(() => {
    console.error(`bench: gave up after ${settings.timeLimitSec} s`);
    void stopTargets(child).then(() => process.exit(1));
  }, settings.timeLimitSec * 1000);
  try {
    const targets = await ready;
    printHeader(targets);
    printThroughput(await measureThroughputs(targets));
    printSellOuts(await measureSellOuts(targets));
  } finally {
    clearTimeout(deadline);
    await stopTargets(child);
  }
}

const fail = (error: unknown) => {
  console.error(error);
  process.exit(1);
};
if (process.argv.includes(CHILD_FLAG)) runTargetsChild().catch(fail);
else main().catch(fail);
