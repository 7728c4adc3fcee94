/**
 * Where each committed order's CPU goes, across the whole stack: the service's processes, PostgreSQL and Redis, read
 * from /proc around a crowd of autocannon buyers. Also a bare express app and the sold-out path, for scale.
 *   npm run bench:cpu                                   (tsx bench/cpu.ts)
 *   BENCH_CPU_PROF=<dir> npm run bench:cpu              also a CPU profile of every service process, summarised
 *   BENCH_CPU_POSTGRES=single,ha,ha-async npm run bench:cpu
 *                                                       the same purchase path on each database, in the same run
 *   sizes: BENCH_CPU_STRATEGIES (segmented-lock,lua), BENCH_ROUNDS (2), BENCH_DURATION_S (5), BENCH_WARMUP_S (2),
 *          BENCH_CONNECTIONS (64), BENCH_SEGMENTS (8), BENCH_TIME_LIMIT_S (1200)
 *
 * Everything runs privately on 127.0.0.1, so every process measured is one this run started: a redis-server, a
 * PostgreSQL cluster with fsync and synchronous_commit on (speed must not come from weaker durability), the service
 * as real child processes (broker, one api process with the worker role, relay, consumer) and a bare express app in
 * a child of its own. autocannon runs in this process; its CPU is reported ("load generator") but not counted in the
 * stack.
 *
 * BENCH_CPU_POSTGRES (comma list, default `single`) says which databases the purchase path is measured on:
 * - `single`: one PostgreSQL server (src/sim/private-postgres.ts), as above.
 * - `ha`: a 3-node Patroni cluster (src/sim/postgres-ha.ts) in synchronous mode, strict: a COMMIT returns once a
 *   standby has its WAL too. The service reaches it through HAProxy.
 * - `ha-async`: the same cluster with Patroni's default, asynchronous replication (a COMMIT waits for the primary
 *   alone).
 * Each database gets a stack of its own (redis-server, broker, api, relay, consumer), all started side by side and
 * only one under load at a time, so a figure never mixes two databases' processes. The targets are (database,
 * strategy) pairs, interleaved (every strategy on each database in turn) and rotated each round like the strategies
 * alone; with several databases they are named "<database> <strategy>", and each is compared with `single` of the
 * same strategy in the same run (CPU per order, orders/s, p99). The bare express app and the sold-out path run on the
 * first database's stack only. For a cluster, the "postgres" group is the whole cluster: all three nodes'
 * PostgreSQL processes, the Patroni processes, etcd and HAProxy (what running it costs), shown also by part
 * (primary, standbys, patroni, etcd, haproxy); Patroni's and etcd's work follows time rather than orders.
 *
 * A process's CPU is utime + stime of /proc/<pid>/stat (all its threads) plus cutime + cstime (the children it has
 * reaped). PostgreSQL forks a backend per connection: its figure is the postmaster and all its children at each
 * snapshot, and a backend that exited in between is still counted through the postmaster's cutime/cstime. The pools
 * keep their connections, so after the warm-up the same backends are there at both snapshots. (Patroni detaches its
 * postmasters: they are nobody's child in the group, so nothing is counted twice.)
 *
 * Before the first round every target gets one warm-up crowd, and before each window its own (BENCH_WARMUP_S). A
 * purchase window runs from just before the crowd until the pipeline drained after it (outbox relayed, consumer
 * caught up), so the relay's and the consumer's work for the window's orders is inside it. The /stats polls that
 * wait for the drain (every 50 ms; a few database queries each) are inside it too; their count is reported.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import { Client } from 'pg';
import type { StrategyName } from '../src/config';
import { applyMigrations } from '../src/infra/migrations';
import { startRedisServer, type LockServer } from '../src/sim/lock-servers';
import { startPostgresHa, type PostgresHa } from '../src/sim/postgres-ha';
import { startPrivatePostgres } from '../src/sim/private-postgres';
import { startServiceProcesses, type ServiceProcesses } from '../src/sim/service-processes';
import {
  loadAverage,
  machineLine,
  machineReport,
  MS_PER_TICK,
  printProfiles,
  procTable,
  processTree,
  PROFILE_START_SIGNAL,
  runBenchFile,
  serviceEnv,
  writeReport,
  type ProcStat,
} from './cpu-sampling';
import {
  type Cleanup,
  createSale,
  createSoldOutSale,
  distinctUserRequests,
  positiveInt,
  rotated,
  runAutocannon,
  startExpressChild,
  statusCounts,
  stopChild,
  strategiesFromEnv,
  waitForPipelineDrain,
  withCleanup,
} from './service-client';

const EXPRESS_FLAG = '--bench-cpu-express-child';

/** Long enough that no order expires (and gives its unit back) while the bench runs. */
const PAYMENT_TIMEOUT_MS = 3_600_000;
/** Large enough that the purchase path never reaches sold-out inside a window. */
const PURCHASE_STOCK = 10_000_000;
const DRAIN_POLL_MS = 50;
const DRAIN_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------------
// Settings

const DATABASES = ['single', 'ha', 'ha-async'] as const;
type DatabaseName = (typeof DATABASES)[number];
/** How the figures name each database; the ratio lines compare against `single`. */
const DATABASE_LABELS: Record<DatabaseName, string> = {
  single: 'single (1 server)',
  ha: 'ha (synchronous, 3 nodes)',
  'ha-async': 'ha-async (asynchronous, 3 nodes)',
};

/** A comma list of database names from the environment variable `name`; unset or empty: `single` alone. */
function databasesFromEnv(name: string): readonly DatabaseName[] {
  const raw = process.env[name];
  if (!raw) return ['single'];
  const names = [...new Set(raw.split(',').map((s) => s.trim()))];
  const unknown = names.filter((s) => !(DATABASES as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`${name}: unknown ${unknown.join(', ')}; use ${DATABASES.join(', ')}`);
  return names as DatabaseName[];
}

function readSettings() {
  return {
    strategies: strategiesFromEnv('BENCH_CPU_STRATEGIES', ['segmented-lock', 'lua']),
    databases: databasesFromEnv('BENCH_CPU_POSTGRES'),
    rounds: positiveInt('BENCH_ROUNDS', 2),
    durationSec: positiveInt('BENCH_DURATION_S', 5),
    warmupSec: positiveInt('BENCH_WARMUP_S', 2),
    connections: positiveInt('BENCH_CONNECTIONS', 64),
    segments: positiveInt('BENCH_SEGMENTS', 8),
    timeLimitSec: positiveInt('BENCH_TIME_LIMIT_S', 1_200),
    profileDir: process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined,
  };
}
type Settings = ReturnType<typeof readSettings>;

// ---------------------------------------------------------------------------------------------------------------
// CPU from /proc (cpu-sampling.ts)

const GROUPS = ['api', 'relay', 'consumer', 'broker', 'postgres', 'redis', 'express'] as const;
type Group = (typeof GROUPS)[number];
const SERVICE_GROUPS: readonly Group[] = ['api', 'relay', 'consumer', 'broker'];
const STACK_GROUPS: readonly Group[] = [...SERVICE_GROUPS, 'postgres', 'redis'];

interface CpuSnapshot {
  ticks: Record<Group, number>;
  /** How many processes each group had (PostgreSQL: postmaster + backends + background processes). */
  processes: Record<Group, number>;
  /** The postgres group's ticks by part (a cluster: primary, standbys, patroni, etcd, haproxy; a server: postgres). */
  databaseParts: Record<string, number>;
}

/** Which PIDs make up each part of the database group right now. */
type PartPids = (table: Map<number, ProcStat>) => Record<string, number[]>;

function ticksOf(table: Map<number, ProcStat>, pids: number[]): { ticks: number; processes: number } {
  const present = pids.filter((pid) => table.has(pid));
  return { ticks: present.reduce((sum, pid) => sum + table.get(pid)!.ticks, 0), processes: present.length };
}

/**
 * One read of /proc for all groups. The postgres group is the union of the database's parts, read once, so that the
 * parts always add up to the group.
 */
function snapshotCpu(stack: Stack): CpuSnapshot {
  const table = procTable();
  const parts = stack.database.parts(table);
  const pids: Record<Group, number[]> = {
    ...stack.serviceAndRedisPids(table),
    postgres: Object.values(parts).flat(),
  };
  const ticks = {} as Record<Group, number>;
  const processes = {} as Record<Group, number>;
  for (const group of GROUPS) {
    const of = ticksOf(table, pids[group]);
    ticks[group] = of.ticks;
    processes[group] = of.processes;
  }
  const databaseParts: Record<string, number> = {};
  for (const [part, partPids] of Object.entries(parts)) databaseParts[part] = ticksOf(table, partPids).ticks;
  return { ticks, processes, databaseParts };
}

/** CPU ms per group between two snapshots. */
function cpuMsBetween(before: CpuSnapshot, after: CpuSnapshot): Record<Group, number> {
  const ms = {} as Record<Group, number>;
  for (const group of GROUPS) ms[group] = (after.ticks[group] - before.ticks[group]) * MS_PER_TICK;
  return ms;
}

/** CPU ms per part of the database group between two snapshots. */
function partsMsBetween(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  const ms: Record<string, number> = {};
  for (const part of Object.keys(after.databaseParts))
    ms[part] = (after.databaseParts[part] - (before.databaseParts[part] ?? 0)) * MS_PER_TICK;
  return ms;
}

const sumOf = (cpu: Record<Group, number>, groups: readonly Group[]) =>
  groups.reduce((sum, group) => sum + cpu[group], 0);

// ---------------------------------------------------------------------------------------------------------------
// The databases, and the stack in front of each

/** A PostgreSQL the service writes to, and the processes that make up its CPU group. */
interface Database {
  name: DatabaseName;
  /** Server URL without a database name. */
  url: string;
  /** Its processes by part (one server: `postgres`); the postgres group is all of them. */
  parts: PartPids;
  /** For the header: what it is. */
  description: string;
  stop(): Promise<void>;
}

async function startDatabase(name: DatabaseName): Promise<Database> {
  if (name === 'single') {
    const postgres = await startPrivatePostgres({ durable: true });
    return {
      name,
      url: postgres.url,
      parts: () => ({ postgres: postgres.pids() }),
      description: 'PostgreSQL (private, fsync on, synchronous_commit on)',
      stop: () => postgres.stop(),
    };
  }
  const cluster = await startPostgresHa(name === 'ha' ? 'sync' : 'async');
  // Nothing here provokes a failover: the node that leads now leads for the whole run.
  const primary = await cluster.primary().catch(async (err: unknown) => {
    await cluster.stop();
    throw err;
  });
  const replication = name === 'ha' ? 'synchronous_mode strict' : 'asynchronous replication';
  return {
    name,
    url: cluster.url,
    parts: (table) => clusterParts(cluster, primary.name, table),
    description:
      `Patroni cluster (3 × PostgreSQL, fsync on, synchronous_commit on, ${replication}; etcd; HAProxy in front; ` +
      `primary ${primary.name})`,
    stop: () => cluster.stop(),
  };
}

const CLUSTER_PARTS = ['primary', 'standbys', 'patroni', 'etcd', 'haproxy'] as const;

/**
 * A cluster's processes by role. A node's PostgreSQL processes are all named `postgres` (postmaster, backends,
 * walsender or walreceiver, the startup process that replays WAL, checkpointer…); the rest of a node is its
 * Patroni. What belongs to no node is etcd or HAProxy, told apart by name.
 */
function clusterParts(cluster: PostgresHa, primary: string, table: Map<number, ProcStat>) {
  const parts: Record<string, number[]> = Object.fromEntries(CLUSTER_PARTS.map((part) => [part, []]));
  const ofNodes = new Set<number>();
  for (const node of cluster.nodes)
    for (const pid of node.pids()) {
      ofNodes.add(pid);
      const postgresPart = node.name === primary ? 'primary' : 'standbys';
      parts[table.get(pid)?.comm === 'postgres' ? postgresPart : 'patroni'].push(pid);
    }
  for (const pid of cluster.pids())
    if (!ofNodes.has(pid)) parts[table.get(pid)?.comm === 'haproxy' ? 'haproxy' : 'etcd'].push(pid);
  return parts;
}

/** One database with a service of its own in front (redis-server, broker, api, relay, consumer). */
interface Stack {
  database: Database;
  redis: LockServer;
  db: Client;
  service: ServiceProcesses;
  apiUrl: string;
  adminToken: string;
  /** Every group but postgres (the database's parts give that one); express is the one child all stacks share. */
  serviceAndRedisPids: (table: Map<number, ProcStat>) => Omit<Record<Group, number[]>, 'postgres'>;
}

/** The bare express app: one child for the run, measured against the first stack. */
interface ExpressChild {
  child: ChildProcess;
  url: string;
}

const pidOf = (name: string, pid: number | undefined) => {
  if (pid === undefined) throw new Error(`${name} has no PID`);
  return pid;
};

/**
 * A redis-server, broker and service processes of its own for each database: sharing them would put the idle
 * stacks' background work (pollers, timers) into the measured one's figures.
 */
async function startStack(
  name: DatabaseName,
  shared: { settings: Settings; cleanup: Cleanup; adminToken: string; express: ExpressChild },
): Promise<Stack> {
  const { settings, cleanup, adminToken } = shared;
  const redis = await startRedisServer();
  cleanup.add(`${name}: redis-server`, () => redis.stop());
  const database = await startDatabase(name);
  cleanup.add(`${name}: PostgreSQL`, () => database.stop());
  const databaseUrl = `${database.url}/seckill`;
  await applyMigrations(databaseUrl);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  cleanup.add(`${name}: database client`, () => db.end());

  const brokerDataDir = mkdtempSync(path.join(os.tmpdir(), 'seckill-bench-cpu-kafka-'));
  cleanup.add(`${name}: broker data`, () => rmSync(brokerDataDir, { recursive: true, force: true }));
  const service = await startServiceProcesses({
    env: serviceEnv({ databaseUrl, redisUrl: redis.address, adminToken }, settings.profileDir),
    brokerDataDir,
    entry: settings.profileDir ? __filename : undefined,
  });
  // SIGTERM, so the children shut down gracefully (and write their profiles).
  cleanup.add(`${name}: service processes`, () => service.stop());

  const roots = {
    api: pidOf('api', service.apis[0].pid),
    relay: pidOf('relay', service.relay.pid),
    consumer: pidOf('consumer', service.consumer.pid),
    broker: pidOf('broker', service.broker?.pid),
    redis: pidOf('redis-server', redis.pid()),
    express: pidOf('express child', shared.express.child.pid),
  };
  const serviceAndRedisPids = (table: Map<number, ProcStat>) => ({
    api: processTree(table, roots.api),
    relay: processTree(table, roots.relay),
    consumer: processTree(table, roots.consumer),
    broker: processTree(table, roots.broker),
    redis: processTree(table, roots.redis),
    express: processTree(table, roots.express),
  });
  return { database, redis, db, service, apiUrl: service.urls[0], adminToken, serviceAndRedisPids };
}

async function startExpress(cleanup: Cleanup): Promise<ExpressChild> {
  const express = await startExpressChild(__filename, EXPRESS_FLAG);
  cleanup.add('express child', () => stopChild(express.child));
  return express;
}

/**
 * The express child, then one stack per database, one after the other (a Patroni cluster's start-up keeps the
 * machine busy enough alone).
 */
async function startStacks(
  settings: Settings,
  cleanup: Cleanup,
): Promise<{ stacks: Stack[]; express: ExpressChild }> {
  const adminToken = randomBytes(24).toString('base64url');
  if (settings.profileDir) mkdirSync(settings.profileDir, { recursive: true });
  const express = await startExpress(cleanup);
  const stacks: Stack[] = [];
  for (const name of settings.databases) {
    progress(`starting the ${DATABASE_LABELS[name]} stack`);
    stacks.push(await startStack(name, { settings, cleanup, adminToken, express }));
  }
  return { stacks, express };
}

// ---------------------------------------------------------------------------------------------------------------
// Talking to the service

const admin = (stack: Stack) => ({ serviceUrl: stack.apiUrl, adminToken: stack.adminToken });

function createPurchaseSale(stack: Stack, settings: Settings, strategy: StrategyName): Promise<string> {
  return createSale(admin(stack), {
    name: `bench-cpu ${strategy}`,
    stock: PURCHASE_STOCK,
    segments: settings.segments,
    strategy,
    paymentTimeoutMs: PAYMENT_TIMEOUT_MS,
  });
}

async function countOrders(stack: Stack, itemId: string): Promise<number> {
  const { rows } = await stack.db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM orders WHERE item_id = $1',
    [itemId],
  );
  return rows[0].n;
}

type Drain = Awaited<ReturnType<typeof waitForPipelineDrain>>;

/** Until every sale's outbox is relayed and the consumer caught up (GET /stats). */
function waitForDrain(stack: Stack): Promise<Drain> {
  return waitForPipelineDrain(stack.apiUrl, { timeoutMs: DRAIN_TIMEOUT_MS, pollMs: DRAIN_POLL_MS });
}

// ---------------------------------------------------------------------------------------------------------------
// Targets and measurements

type TargetKind = 'purchase' | 'express' | 'soldOut';

interface Target {
  name: string;
  kind: TargetKind;
  /** The stack whose processes the window measures (express: the first one, for the same group layout). */
  stack: Stack;
  /** Purchase targets: the strategy of the sale. */
  strategy?: StrategyName;
  url: string;
  itemId?: string;
  /** Shared by the target's warm-ups and windows, so that every request names a buyer never seen before. */
  requests: autocannon.Request[];
}

/** With one database the names stay what they always were (the strategy's); with several they say which. */
function purchaseName(settings: Settings, database: DatabaseName, strategy: StrategyName): string {
  return settings.databases.length > 1 ? `${database} ${strategy}` : strategy;
}

/**
 * A sale per (database, strategy), strategy by strategy and each on every database in turn, so that the windows
 * compared with each other (the same strategy on two databases) lie close together in time.
 */
async function purchaseTargets(stacks: Stack[], settings: Settings, run: string): Promise<Target[]> {
  const targets: Target[] = [];
  for (const strategy of settings.strategies)
    for (const stack of stacks) {
      const name = purchaseName(settings, stack.database.name, strategy);
      const itemId = await createPurchaseSale(stack, settings, strategy);
      const requests = distinctUserRequests(`${run}-${name}`, itemId);
      targets.push({ name, kind: 'purchase', stack, strategy, url: stack.apiUrl, itemId, requests });
    }
  return targets;
}

/** The bare express app and the sold-out path: baselines of the HTTP path, on the first database's stack. */
async function buildTargets(stacks: Stack[], express: ExpressChild, settings: Settings): Promise<Target[]> {
  const run = Date.now().toString(36);
  const purchases = await purchaseTargets(stacks, settings, run);
  const stack = stacks[0];
  const soldOutItem = await createSoldOutSale(admin(stack), {
    name: 'bench-cpu sold out',
    segments: settings.segments,
    strategy: settings.strategies[0],
    paymentTimeoutMs: PAYMENT_TIMEOUT_MS,
  });
  return [
    ...purchases,
    // The express app ignores the body; the same shape keeps the request's size and parsing equal.
    {
      name: 'bare express',
      kind: 'express',
      stack,
      url: express.url,
      requests: distinctUserRequests(`${run}-x`, '1'),
    },
    {
      name: 'sold-out',
      kind: 'soldOut',
      stack,
      url: stack.apiUrl,
      itemId: soldOutItem,
      requests: distinctUserRequests(`${run}-so`, soldOutItem),
    },
  ];
}

function crowd(target: Target, settings: Settings, durationSec: number): Promise<autocannon.Result> {
  return runAutocannon({
    url: `${target.url}/seckill`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: settings.connections,
    pipelining: 1,
    duration: durationSec,
    requests: target.requests,
  });
}

interface Measurement {
  target: string;
  kind: TargetKind;
  /** The database of the stack measured. */
  database: DatabaseName;
  strategy?: StrategyName;
  round: number;
  crowdMs: number;
  /** From the first CPU snapshot to the second: the crowd, plus the drain after it for purchases. */
  windowMs: number;
  /** Responses received in the window, any status. */
  responses: number;
  /** Orders committed in the window (purchase targets). */
  orders: number;
  statusCounts: Record<string, number>;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  /** Purchase targets: from the crowd's end until the pipeline drained. */
  drainAfterCrowd?: Drain;
  drainBefore: Drain;
  /** CPU ms of each group in the window (purchase: crowd + drain; others: the crowd). */
  cpuMs: Record<Group, number>;
  /** CPU ms of each part of the postgres group in the window (cluster: primary, standbys, patroni, etcd, haproxy). */
  databaseCpuMs: Record<string, number>;
  loadGeneratorMs: number;
  processes: { before: Record<Group, number>; after: Record<Group, number> };
}

async function measure(settings: Settings, target: Target, round: number): Promise<Measurement> {
  const { stack } = target;
  await crowd(target, settings, settings.warmupSec); // JIT, full connection pools, caches: discarded
  // The previous target's and the warm-up's orders are still flowing through the pipeline: outside the window.
  const drainBefore = await waitForDrain(stack);
  if (drainBefore.ms === null)
    progress(`${target.name}: pipeline not drained after the warm-up; measuring anyway`);
  const ordersBefore = target.kind === 'purchase' ? await countOrders(stack, target.itemId!) : 0;

  const before = snapshotCpu(stack);
  const loadGenerator = process.cpuUsage();
  const started = performance.now();
  const result = await crowd(target, settings, settings.durationSec);
  const crowdMs = performance.now() - started;
  const loadGeneratorUs = process.cpuUsage(loadGenerator);
  const drainAfterCrowd = target.kind === 'purchase' ? await waitForDrain(stack) : undefined;
  const after = snapshotCpu(stack);
  const windowMs = performance.now() - started;

  const ordersAfter = target.kind === 'purchase' ? await countOrders(stack, target.itemId!) : 0;
  const counts = statusCounts(result);
  return {
    target: target.name,
    kind: target.kind,
    database: stack.database.name,
    strategy: target.strategy,
    round,
    crowdMs,
    windowMs,
    responses: Object.values(counts).reduce((sum, n) => sum + n, 0),
    orders: ordersAfter - ordersBefore,
    statusCounts: counts,
    errors: result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    drainAfterCrowd,
    drainBefore,
    cpuMs: cpuMsBetween(before, after),
    databaseCpuMs: partsMsBetween(before, after),
    loadGeneratorMs: (loadGeneratorUs.user + loadGeneratorUs.system) / 1000,
    processes: { before: before.processes, after: after.processes },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Figures

interface PurchaseFigures {
  ordersPerSec: number;
  p50Ms: number;
  p99Ms: number;
  drainMs: number | null;
  /** CPU ms per committed order, per group and for the sums. */
  perOrder: Record<Group | 'service' | 'stack' | 'loadGenerator', number>;
  /**
   * Cores each group kept busy in the window (CPU ms / wall ms). The pipeline's processes poll and batch, so their
   * CPU follows time more than orders: this says whether a per-order figure is really per order.
   */
  cores: Record<Group | 'stack', number>;
  /** The postgres group by part, per order and in cores (a cluster: primary, standbys, patroni, etcd, haproxy). */
  databasePerOrder: Record<string, number>;
  databaseCores: Record<string, number>;
}

interface BaselineFigures {
  reqPerSec: number;
  /** express: the express child's CPU ms per request; sold-out: the api process's. */
  cpuMsPerRequest: number;
  /** sold-out: the stack's CPU ms per request. */
  stackMsPerRequest: number;
  /** sold-out: against bare express of the same round. */
  vsExpressReqPerSec?: number;
  vsExpressCpu?: number;
}

function purchaseFigures(m: Measurement): PurchaseFigures {
  const per = (ms: number) => (m.orders > 0 ? ms / m.orders : NaN);
  const perOrder = {} as PurchaseFigures['perOrder'];
  for (const group of GROUPS) perOrder[group] = per(m.cpuMs[group]);
  perOrder.service = per(sumOf(m.cpuMs, SERVICE_GROUPS));
  perOrder.stack = per(sumOf(m.cpuMs, STACK_GROUPS));
  perOrder.loadGenerator = per(m.loadGeneratorMs);
  const cores = {} as PurchaseFigures['cores'];
  for (const group of GROUPS) cores[group] = m.cpuMs[group] / m.windowMs;
  cores.stack = sumOf(m.cpuMs, STACK_GROUPS) / m.windowMs;
  const databasePerOrder: Record<string, number> = {};
  const databaseCores: Record<string, number> = {};
  for (const [part, ms] of Object.entries(m.databaseCpuMs)) {
    databasePerOrder[part] = per(ms);
    databaseCores[part] = ms / m.windowMs;
  }
  return {
    ordersPerSec: (m.orders / m.crowdMs) * 1000,
    p50Ms: m.p50Ms,
    p99Ms: m.p99Ms,
    drainMs: m.drainAfterCrowd?.ms ?? null,
    perOrder,
    cores,
    databasePerOrder,
    databaseCores,
  };
}

function baselineFigures(m: Measurement, express?: Measurement): BaselineFigures {
  const reqPerSec = (m.responses / m.crowdMs) * 1000;
  const own = m.kind === 'express' ? m.cpuMs.express : m.cpuMs.api;
  const figures: BaselineFigures = {
    reqPerSec,
    cpuMsPerRequest: own / m.responses,
    stackMsPerRequest: sumOf(m.cpuMs, STACK_GROUPS) / m.responses,
  };
  if (m.kind === 'soldOut' && express) {
    const bare = baselineFigures(express);
    figures.vsExpressReqPerSec = reqPerSec / bare.reqPerSec;
    figures.vsExpressCpu = figures.cpuMsPerRequest / bare.cpuMsPerRequest;
  }
  return figures;
}

interface RoundFigures {
  round: number;
  purchases: Record<string, PurchaseFigures>;
  express: BaselineFigures;
  soldOut: BaselineFigures;
}

function roundFigures(round: number, measurements: Measurement[]): RoundFigures {
  const of = (kind: TargetKind) => measurements.find((m) => m.kind === kind)!;
  const purchases: Record<string, PurchaseFigures> = {};
  for (const m of measurements.filter((m) => m.kind === 'purchase')) purchases[m.target] = purchaseFigures(m);
  return {
    round,
    purchases,
    express: baselineFigures(of('express')),
    soldOut: baselineFigures(of('soldOut'), of('express')),
  };
}

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Field by field, the median over the rounds (nested objects likewise); a field null in some round (a drain that
 * timed out) is the median of the others.
 */
function medianOf<T extends object>(rows: T[]): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(rows[0])) {
    const values = rows.map((row) => (row as Record<string, unknown>)[key]);
    if (values.every((v) => v === null || v === undefined || typeof v === 'number')) {
      const numbers = values.filter((v): v is number => typeof v === 'number');
      out[key] = numbers.length ? median(numbers) : null;
    } else out[key] = medianOf(values as object[]);
  }
  return out as T;
}

function summaryFigures(rounds: RoundFigures[], targets: Target[]): Omit<RoundFigures, 'round'> {
  const purchases: Record<string, PurchaseFigures> = {};
  for (const { name } of targets.filter((t) => t.kind === 'purchase'))
    purchases[name] = medianOf(rounds.map((r) => r.purchases[name]));
  return {
    purchases,
    express: medianOf(rounds.map((r) => r.express)),
    soldOut: medianOf(rounds.map((r) => r.soldOut)),
  };
}

/** A purchase target against `single` with the same strategy, in the same run (or round): this one's / single's. */
interface Comparison {
  target: string;
  database: DatabaseName;
  strategy: StrategyName;
  against: string;
  /** CPU ms per order of the whole stack, and of the postgres group alone. */
  stackCpu: number;
  postgresCpu: number;
  ordersPerSec: number;
  p99: number;
}

function comparisons(purchases: Record<string, PurchaseFigures>, targets: Target[]): Comparison[] {
  const onSingle = (strategy?: StrategyName) =>
    targets.find(
      (t) => t.kind === 'purchase' && t.stack.database.name === 'single' && t.strategy === strategy,
    );
  const out: Comparison[] = [];
  for (const target of targets) {
    const base = onSingle(target.strategy);
    if (target.kind !== 'purchase' || !base || base === target) continue;
    const [f, b] = [purchases[target.name], purchases[base.name]];
    out.push({
      target: target.name,
      database: target.stack.database.name,
      strategy: target.strategy!,
      against: base.name,
      stackCpu: f.perOrder.stack / b.perOrder.stack,
      postgresCpu: f.perOrder.postgres / b.perOrder.postgres,
      ordersPerSec: f.ordersPerSec / b.ordersPerSec,
      p99: f.p99Ms / b.p99Ms,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const whole = (value: number) => Math.round(value).toLocaleString('en');
const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const msOrNever = (value: number | null) => (value === null ? `> ${whole(DRAIN_TIMEOUT_MS)}` : whole(value));

function progress(line: string): void {
  console.log(`  … ${line}`);
}

/** Purchase and baseline names are padded to one width, at least 15 (the width of the single-database names). */
const nameWidth = (names: string[]) => Math.max(15, ...names.map((name) => name.length));

function purchaseLines(name: string, f: PurchaseFigures, width: number): string[] {
  const p = f.perOrder;
  const stackTotal = p.stack || NaN;
  const share = (group: Group) => `${group} ${fixed((p[group] / stackTotal) * 100, 0)}%`;
  return [
    `${name.padEnd(width)} orders/s ${whole(f.ordersPerSec)}  p50 ${whole(f.p50Ms)} ms p99 ${whole(f.p99Ms)} ms  ` +
      `drain ${msOrNever(f.drainMs)} ms`,
    `  cpu ms/order: api ${fixed(p.api)} · relay ${fixed(p.relay)} · consumer ${fixed(p.consumer)} · ` +
      `broker ${fixed(p.broker)} · service ${fixed(p.service)} · postgres ${fixed(p.postgres)} · ` +
      `redis ${fixed(p.redis)} · stack ${fixed(p.stack)} (load generator ${fixed(p.loadGenerator)})`,
    `  share: ${STACK_GROUPS.map(share).join(' · ')}`,
    `  cores busy: ${STACK_GROUPS.map((group) => `${group} ${fixed(f.cores[group])}`).join(' · ')} · ` +
      `stack ${fixed(f.cores.stack)}`,
    ...clusterLines(f),
  ];
}

/**
 * A cluster's postgres group by part: what each part costs per order, and the cores it kept busy (Patroni's and
 * etcd's work follows time, not orders). Nothing for a single server, whose one part is the group.
 */
function clusterLines(f: PurchaseFigures): string[] {
  const parts = Object.keys(f.databasePerOrder);
  if (parts.length < 2) return [];
  const perOrder = f.databasePerOrder;
  const nodes = (perOrder.primary ?? NaN) + (perOrder.standbys ?? NaN);
  return [
    `  postgres group ms/order: ${parts.map((part) => `${part} ${fixed(perOrder[part])}`).join(' · ')}; ` +
      `PostgreSQL nodes only ${fixed(nodes)} (${fixed((nodes / f.perOrder.stack) * 100, 0)}% of the stack)`,
    `  postgres group cores busy: ${parts.map((part) => `${part} ${fixed(f.databaseCores[part])}`).join(' · ')}`,
  ];
}

/** e.g. "ha (synchronous, 3 nodes), lua: 1.40x CPU per order (postgres group 2.90x), 0.80x orders/s, 1.30x p99". */
function comparisonLine(c: Comparison): string {
  return (
    `${DATABASE_LABELS[c.database]}, ${c.strategy}: ${fixed(c.stackCpu)}x CPU per order ` +
    `(postgres group ${fixed(c.postgresCpu)}x), ${fixed(c.ordersPerSec)}x orders/s, ${fixed(c.p99)}x p99 of single`
  );
}

function baselineLines(figures: Omit<RoundFigures, 'round'>, width: number): string[] {
  const { express, soldOut } = figures;
  return [
    `${'bare express'.padEnd(width)} req/s ${whole(express.reqPerSec)}  cpu ms/req ${fixed(express.cpuMsPerRequest, 3)}`,
    `${'sold-out'.padEnd(width)} req/s ${whole(soldOut.reqPerSec)} (${fixed(soldOut.vsExpressReqPerSec ?? NaN)}x bare)  ` +
      `api cpu ms/req ${fixed(soldOut.cpuMsPerRequest, 3)} (${fixed(soldOut.vsExpressCpu ?? NaN)}x bare)  ` +
      `stack cpu ms/req ${fixed(soldOut.stackMsPerRequest, 3)}`,
  ];
}

function printFigures(title: string, figures: Omit<RoundFigures, 'round'>, targets: Target[]): void {
  const width = nameWidth(targets.map((t) => t.name));
  console.log(`\n${title}`);
  for (const [name, f] of Object.entries(figures.purchases))
    console.log(purchaseLines(name, f, width).join('\n'));
  const compared = comparisons(figures.purchases, targets);
  if (compared.length)
    console.log(['against single, same run:', ...compared.map(comparisonLine)].join('\n  '));
  console.log(baselineLines(figures, width).join('\n'));
}

/** Answers other than the target's own success status, and transport errors: a window full of 503s is no figure. */
function oddAnswers(m: Measurement): string | undefined {
  const expected = m.kind === 'purchase' ? '201' : m.kind === 'express' ? '200' : '410';
  const odd = Object.entries(m.statusCounts).filter(([status]) => status !== expected);
  const parts = odd.map(([status, n]) => `${whole(n)} × ${status}`);
  if (m.errors) parts.push(`${whole(m.errors)} errors/timeouts`);
  return parts.length ? parts.join(', ') : undefined;
}

function printWindowNotes(measurements: Measurement[]): void {
  for (const m of measurements) {
    const notes = [
      m.kind === 'purchase' ? `${whole(m.orders)} orders` : `${whole(m.responses)} responses`,
      `in ${fixed(m.crowdMs / 1000)} s`,
      `non-${m.kind === 'purchase' ? '201' : m.kind === 'express' ? '200' : '410'}: ${oddAnswers(m) ?? 'none'}`,
      m.drainAfterCrowd ? `${m.drainAfterCrowd.polls} /stats polls in the window` : '',
      `postgres processes ${m.processes.before.postgres} → ${m.processes.after.postgres}`,
      m.drainBefore.ms === null ? 'NOT drained before the window' : '',
    ].filter(Boolean);
    console.log(`  ${m.target}: ${notes.join(', ')}`);
  }
}

function printHeader(stacks: Stack[], settings: Settings): void {
  console.log('\nseckill bench:cpu');
  console.log(machineLine(loadAverage()));
  console.log(
    `${settings.connections} connections, pipelining 1, ${settings.rounds} rounds (order rotated each round), ` +
      `${settings.warmupSec} s warm-up + ${settings.durationSec} s crowd per target, every request a new buyer; ` +
      `purchase: stock ${whole(PURCHASE_STOCK)} in ${settings.segments} segments`,
  );
  for (const stack of stacks) console.log(stackLine(stack, settings));
  const express = stacks[0].serviceAndRedisPids(procTable()).express;
  console.log(`express ${express.join(',')}; load generator ${process.pid}`);
  if (settings.profileDir) console.log(`CPU profiles of the service processes → ${settings.profileDir}`);
}

/** What a stack is and its PIDs; with several databases, prefixed by the database's name. */
function stackLine(stack: Stack, settings: Settings): string {
  const table = procTable();
  const pids = stack.serviceAndRedisPids(table);
  const parts = Object.entries(stack.database.parts(table));
  const database =
    parts.length === 1
      ? `pids ${parts[0][1].join(',')}`
      : `pids: ${parts.map(([part, partPids]) => `${part} ${partPids.join(',')}`).join('; ')}`;
  const prefix = settings.databases.length > 1 ? `${stack.database.name}: ` : '';
  return (
    `${prefix}${stack.database.description} ${database}; redis-server ${pids.redis.join(',')}; ` +
    `api (api+worker) ${pids.api.join(',')}; relay ${pids.relay.join(',')}; consumer ${pids.consumer.join(',')}; ` +
    `broker ${pids.broker.join(',')}`
  );
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * One warm-up crowd per target before the first round. Without it the first windows of a run came out 1.5–2.5x
 * slower per order than the same target's later ones (whichever target and stack came first), on top of each
 * window's own warm-up: the load generator's and the services' first minute, not the target's cost.
 */
async function warmUpAll(settings: Settings, targets: Target[]): Promise<void> {
  progress(`warming up every target once (${settings.warmupSec} s each)`);
  for (const target of targets) {
    await crowd(target, settings, settings.warmupSec);
    await waitForDrain(target.stack);
  }
}

async function runRounds(settings: Settings, targets: Target[]) {
  const measurements: Measurement[] = [];
  const rounds: RoundFigures[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const order = rotated(targets, round - 1);
    console.log(`\nround ${round} of ${settings.rounds} (${order.map((t) => t.name).join(', ')})`);
    const inRound: Measurement[] = [];
    for (const target of order) {
      progress(`${target.name}: ${settings.warmupSec} s warm-up, ${settings.durationSec} s crowd`);
      inRound.push(await measure(settings, target, round));
    }
    measurements.push(...inRound);
    rounds.push(roundFigures(round, inRound));
    printFigures(`round ${round}`, rounds[rounds.length - 1], targets);
    printWindowNotes(inRound);
  }
  return { measurements, rounds };
}

async function main(): Promise<void> {
  const settings = readSettings();
  const loadAtStart = loadAverage();
  const report = await withCleanup(settings.timeLimitSec, async (cleanup) => {
    const { stacks, express } = await startStacks(settings, cleanup);
    printHeader(stacks, settings);
    const targets = await buildTargets(stacks, express, settings);
    // The sold-out sale's one order must get through: a pipeline that never drains would make every window 30 s
    // longer and every per-order figure meaningless.
    if ((await waitForDrain(stacks[0])).ms === null)
      throw new Error(
        `the pipeline did not drain one order in ${DRAIN_TIMEOUT_MS} ms (outbox relay or consumer not working)`,
      );
    await warmUpAll(settings, targets);
    // From here on: profiles cover the rounds, not start-up. (Unprofiled, SIGUSR2 would end a Node process.)
    if (settings.profileDir)
      for (const child of stacks.flatMap((stack) => stack.service.all()))
        if (child.pid) process.kill(child.pid, PROFILE_START_SIGNAL);
    const { measurements, rounds } = await runRounds(settings, targets);
    const summary = summaryFigures(rounds, targets);
    printFigures(`summary: median over ${rounds.length} round(s)`, summary, targets);
    console.log(`\nload average at start ${loadAtStart}, at end ${loadAverage()}`);
    return {
      generatedAt: new Date().toISOString(),
      machine: machineReport(loadAtStart),
      settings,
      measurements,
      rounds,
      summary,
      // The ratios the summary prints: each database against single with the same strategy.
      comparisons: comparisons(summary.purchases, targets),
    };
  });
  console.log(`\nJSON: ${writeReport('bench-cpu', report)}`);
  if (settings.profileDir)
    printProfiles(settings.profileDir, {
      prefix: '',
      top: 12,
      missing: `no CPU profiles in ${settings.profileDir} (did the children stop gracefully?)`,
    });
}

runBenchFile(EXPRESS_FLAG, main);
