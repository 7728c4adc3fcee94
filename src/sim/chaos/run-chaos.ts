// `seckill sim --chaos`: the stack as child processes on the sim's own backends, then for each strategy N seeded
// runs, each one a fresh sale sold to a retrying crowd while the nemesis injects and heals its faults; at quiescence
// the checker judges the sale. The runs fill the fault matrix.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import type { StrategyName } from '../../config';
import type { ReplicationMode } from '../postgres-ha';
import { startSimBackends, type SimBackends } from '../backends';
import { shareOf } from '../random';
import type { ChaosReport, ChaosRunReport } from '../report-types';
import { startServiceProcesses, type ServiceProcesses } from '../service-processes';
import { UNSAFE_BY_DESIGN } from '../simulate';
import { runBuyers } from './buyers';
import { acknowledgedLost, checkRun, formatViolation } from './checker';
import type { Fault } from './faults';
import { buildMatrix, summarise } from './matrix';
import { prepareNemesis } from './nemesis';
import { readItemRows, sampleHistory, ServiceClient, waitForQuiescence } from './observe';
import { recoveryAfter } from './recovery';
import { buildSchedule } from './schedule';

export interface ChaosOptions {
  strategies: StrategyName[];
  /** Seeded runs per strategy; run i uses seed + i. */
  runs: number;
  seed: number;
  faults: readonly Fault[];
  faultsPerRun: number;
  stock: number;
  segments: number;
  users: number;
  payRatio: number;
  paymentTimeoutMs: number;
  /** Buyers arrive, and faults start, within this window. */
  windowMs: number;
  drainTimeoutMs: number;
  /** api processes (each with the worker role); buyers spread over them. */
  apis: number;
  progress: (line: string) => void;
  /** A test build of the service to run instead of the CLI (the checker's own tests). */
  serviceEntry?: string;
  /**
   * Sell on a private Patroni cluster instead of one PostgreSQL. `async` loses acknowledged orders in a failover by
   * design (like the naive strategy): its runs are reported, not failed.
   */
  postgresHa?: ReplicationMode;
}

/** What the children run with: short sweeps and grace so that the backstops act within a run. */
const RESERVATION_GRACE_MS = 3000;
/**
 * On a Patroni cluster a purchase's write can stay in flight through a failover: its batch's connection (up to 5 s),
 * then its COMMIT read back for up to ORDER_RESOLVE_TIMEOUT_MS (10 s). A reservation must outlive that before the
 * sweeper may give its unit back, or a unit is for sale again while its order commits.
 */
const HA_RESERVATION_GRACE_MS = 20_000;
/** Distinct error answers a run keeps, to say what they were. */
const ERROR_SAMPLES = 5;
const SWEEP_INTERVAL_MS = 500;
/** Late buyers come in waves this size until one is told sold_out. */
const LATE_WAVE = 10;

const graceOf = (options: ChaosOptions) =>
  options.postgresHa ? HA_RESERVATION_GRACE_MS : RESERVATION_GRACE_MS;

export async function runChaos(
  options: ChaosOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ChaosReport> {
  const backends = await startSimBackends(env, options.strategies, {
    privatePostgres: !options.postgresHa,
    postgresHa: options.postgresHa,
  });
  const adminToken = randomBytes(24).toString('base64url');
  const observerToken = randomBytes(24).toString('base64url');
  let processes: ServiceProcesses | undefined;
  const db = new Pool({ connectionString: backends.env.DATABASE_URL, max: 2 });
  db.on('error', () => undefined); // idle clients cut by a PostgreSQL restart: the next query reconnects
  try {
    processes = await startServiceProcesses({
      env: {
        ...env,
        ...backends.env,
        ADMIN_TOKEN: adminToken,
        OBSERVER_TOKEN: observerToken,
        LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
        RATE_LIMIT_USER_PER_SEC: '0',
        MAX_IN_FLIGHT: '0',
        RESERVATION_GRACE_MS: String(graceOf(options)),
        SWEEP_INTERVAL_MS: String(SWEEP_INTERVAL_MS),
        KAFKA_SESSION_TIMEOUT_MS: '6000',
      },
      apis: options.apis,
      brokerDataDir: backends.env.KAFKA_DATA_DIR,
      entry: options.serviceEntry,
    });
    const client = new ServiceClient(processes.urls, adminToken, observerToken);
    const unavailable = (strategy: string, fault: Fault) =>
      fault.unavailable({
        strategy: strategy as StrategyName,
        servers: backends.servers,
        brokerChild: !!processes!.broker,
      }) ?? (backends.skipped[strategy as StrategyName] ? 'strategy skipped' : undefined);
    const runs: ChaosRunReport[] = [];
    const strategies = options.strategies.filter((strategy) => !backends.skipped[strategy]);
    for (const strategy of strategies) {
      const applicable = options.faults.filter((fault) => !unavailable(strategy, fault));
      for (let i = 0; i < options.runs; i++) {
        const seed = options.seed + i;
        const run = await chaosRun({ strategy, seed, applicable, options, processes, backends, client, db });
        options.progress(
          `\n${run.violations.length ? '✗' : '✓'} ${strategy} seed ${seed} [${run.faults.map((f) => f.fault).join(', ')}] ` +
            `${(run.durationMs / 1000).toFixed(1)} s${run.violations.length ? `: ${run.violations.join('; ')}` : ''}`,
        );
        runs.push(run);
      }
    }
    const faultNames = options.faults.map((fault) => fault.name);
    return {
      generatedAt: new Date().toISOString(),
      scenario: {
        stock: options.stock,
        segments: options.segments,
        users: options.users,
        payRatio: options.payRatio,
        paymentTimeoutMs: options.paymentTimeoutMs,
        windowMs: options.windowMs,
        faultsPerRun: options.faultsPerRun,
        apis: options.apis,
        firstSeed: options.seed,
        runsPerStrategy: options.runs,
        postgresHa: options.postgresHa,
      },
      backends: {
        ...backends.describe,
        kafka: processes.broker ? 'broker child process' : backends.describe.kafka,
      },
      faults: faultNames,
      runs,
      matrix: buildMatrix(runs, strategies, faultNames, (strategy, name) =>
        unavailable(
          strategy,
          options.faults.find((fault) => fault.name === name)!,
        ),
      ),
      summary: summarise(runs, strategies),
      skipped: options.strategies.flatMap((strategy) => {
        const reason = backends.skipped[strategy];
        return reason ? [{ strategy, reason }] : [];
      }),
    };
  } finally {
    await processes?.stop();
    await db.end().catch(() => undefined);
    await backends.stop();
  }
}

interface RunContext {
  strategy: StrategyName;
  seed: number;
  applicable: readonly Fault[];
  options: ChaosOptions;
  processes: ServiceProcesses;
  backends: SimBackends;
  client: ServiceClient;
  db: Pool;
}

async function chaosRun(ctx: RunContext): Promise<ChaosRunReport> {
  const { strategy, seed, options, client } = ctx;
  const startedAt = Date.now();
  const crashesBefore = crashes(ctx.processes);
  const deadline = startedAt + options.windowMs + options.drainTimeoutMs;
  const itemId = await client.createSale(
    {
      name: `chaos ${strategy} seed ${seed}`,
      stock: options.stock,
      segments: options.segments,
      strategy,
      paymentTimeoutMs: options.paymentTimeoutMs,
    },
    deadline,
  );
  const schedule = buildSchedule(ctx.applicable, {
    seed,
    count: options.faultsPerRun,
    windowMs: options.windowMs,
  });
  const nemesis = await prepareNemesis(schedule, ctx.applicable, {
    strategy,
    processes: ctx.processes,
    servers: ctx.backends.servers,
  });
  const crowdStart = Date.now();
  const stopHistory = sampleHistory(client, itemId, crowdStart);
  const [crowd, faults] = await Promise.all([
    runBuyers({
      urls: client.urls,
      itemId,
      userIds: Array.from({ length: options.users }, (_, n) => `u${n}`),
      arrivalWindowMs: options.windowMs,
      pays: (userId) => shareOf(`${seed}:${userId}`) < options.payRatio,
      deadline,
    }),
    nemesis(crowdStart),
  ]);
  const settle = { settleMs: graceOf(options) + 4 * SWEEP_INTERVAL_MS, deadline };
  await waitForQuiescence(client, ctx.db, itemId, settle);
  // Units given back after the crowd left are sold to late buyers, who all pay: the sale ends sold out.
  const late = { acknowledged: [] as { orderId: string; userId: string }[], soldOut: 0 };
  for (let wave = 0; late.soldOut === 0 && wave * LATE_WAVE < 2 * options.stock + LATE_WAVE; wave++) {
    const result = await runBuyers({
      urls: client.urls,
      itemId,
      userIds: Array.from({ length: LATE_WAVE }, (_, n) => `late${wave * LATE_WAVE + n}`),
      arrivalWindowMs: 0,
      pays: () => true,
      deadline,
    });
    late.acknowledged.push(...result.acknowledged);
    late.soldOut += result.soldOut;
  }
  const final = await waitForQuiescence(client, ctx.db, itemId, settle);
  const history = await stopHistory();
  const rows = await readItemRows(ctx.db, itemId);
  const acknowledged = [...crowd.acknowledged, ...late.acknowledged];
  for (const fault of faults)
    if (fault.injectedAtMs !== undefined)
      fault.recovery = recoveryAfter(crowd.answers, crowdStart + fault.injectedAtMs);
  const violations = checkRun({
    initialStock: options.stock,
    demandExceededStock: late.soldOut > 0,
    final,
    orders: rows.orders,
    acknowledged,
    outbox: rows.outbox,
    history,
  });
  return {
    strategy,
    expectedSafe: !UNSAFE_BY_DESIGN.has(strategy) && options.postgresHa !== 'async',
    seed,
    faults,
    violations: violations.map(formatViolation),
    durationMs: Date.now() - startedAt,
    ordered: crowd.acknowledged.length + late.acknowledged.length,
    soldOut: crowd.soldOut + late.soldOut,
    activeOrders: rows.orders.filter((order) => order.status !== 'CANCELLED').length,
    cancelledOrders: rows.orders.filter((order) => order.status === 'CANCELLED').length,
    gaveUp: crowd.gaveUp,
    retries: crowd.retries,
    crashes: crashes(ctx.processes) - crashesBefore,
    acknowledgedLost: acknowledgedLost(rows.orders, acknowledged),
    errorAnswers: crowd.answers.filter((answer) => answer.outcome === 'errors').length,
    errorSamples: [...new Set(crowd.answers.flatMap((answer) => answer.detail ?? []))].slice(
      0,
      ERROR_SAMPLES,
    ),
  };
}

function crashes(processes: ServiceProcesses): number {
  return processes.all().reduce((sum, child) => sum + child.unexpectedExits, 0);
}
