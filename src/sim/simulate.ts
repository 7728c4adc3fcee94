// One simulated flash sale per strategy: start the stack, create a sale, drive the crowd, pay some orders, wait for
// expiries and the pipeline to drain, reconcile, report. --compare runs every strategy on the same crowd.
import { randomBytes } from 'node:crypto';
import { mintBuyerToken } from '../http/buyer-token';
import { loadConfig, type StrategyName } from '../config';
import { createLogger } from '../infra/logger';
import type { ItemStats } from '../metrics/reconciliation';
import { buildService, ROLES, type Service } from '../service';
import { startSimBackends } from './backends';
import type { ReplicationMode } from './postgres-ha';
import { startServiceProcess, type ServiceProcess } from './service-process';
import { driveCrowd, formatProgress } from './load-driver';
import { admissionFairnessOf, fairnessOf } from './fairness';
import {
  ADMISSION_DEFAULTS,
  driveVisitors,
  openVisitorAgent,
  planVisitors,
  summarizeLatency,
  type AdmissionCrowd,
  type AdmissionMode,
} from './visitors';
import { admissionSettings } from '../waiting-room/settings';
import { shareOf } from './random';
import type { Reconciliation, RunReport, SimReport } from './report-types';

export interface SimOptions {
  scenario: string;
  strategies: StrategyName[];
  stock: number;
  segments: number;
  users: number;
  requests: number;
  connections: number;
  ratePerSec?: number;
  duplicateRatio: number;
  payRatio: number;
  paymentTimeoutMs: number;
  seed: number;
  /** Requests per user per second the service allows; 0 = off (measure the strategies, not the limiter). */
  userRateLimit: number;
  drainTimeoutMs: number;
  progress: (line: string) => void;
  /** `token`: the service runs with BUYER_AUTH=token and the crowd sends a signed token per buyer. Default open. */
  buyerAuth?: 'open' | 'token';
  /** Run the sale on a private Redis Cluster of this many masters (each with a replica). */
  redisCluster?: number;
  /** Sell on a private Patroni cluster (three nodes behind HAProxy), synchronous or asynchronous replication. */
  postgresHa?: ReplicationMode;
  /** Serve the crowd from this many API processes (`serve --workers N`); the other roles stay in this process. */
  workers?: number;
  /**
   * `--compare-admission`: one sale per admission mode (sold by the first strategy) to the same crowd of `users`
   * visitors (visitors.ts), instead of one sale per strategy to the autocannon crowd.
   */
  admissionModes?: AdmissionMode[];
  /** The visitors' arrivals and kinds, and the rooms' settings; ADMISSION_DEFAULTS for what is not given. */
  admissionCrowd?: Partial<AdmissionCrowd>;
}

/** naive is the control group: it is expected to oversell, so its numbers mark it unsafe instead of failing the run. */
export const UNSAFE_BY_DESIGN: ReadonlySet<StrategyName> = new Set(['naive']);

export async function simulate(
  options: SimOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SimReport> {
  const backends = await startSimBackends(env, options.strategies, {
    redisClusterMasters: options.redisCluster,
    postgresHa: options.postgresHa,
  });
  const serviceEnv: NodeJS.ProcessEnv = {
    ...env,
    ...backends.env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    RATE_LIMIT_USER_PER_SEC: String(options.userRateLimit),
    MAX_IN_FLIGHT: '0',
    SWEEP_INTERVAL_MS: String(Math.min(1000, options.paymentTimeoutMs)),
    ...(options.buyerAuth === 'token'
      ? {
          BUYER_AUTH: 'token',
          // A secret of the run's own unless one is given: the simulator mints every token itself.
          BUYER_TOKEN_SECRET: env.BUYER_TOKEN_SECRET ?? randomBytes(32).toString('base64url'),
        }
      : {}),
  };
  const config = loadConfig(serviceEnv);
  const service = buildService(config, { log: createLogger(config.logLevel, 'sim', 'stderr') });
  let api: ServiceProcess | undefined;
  try {
    const workers = options.workers;
    const { url: ownUrl, brokers } = await service.start(
      workers ? ROLES.filter((role) => role !== 'api') : ROLES,
    );
    if (workers) {
      api = await startServiceProcess({
        roles: 'api',
        workers,
        env: { ...(serviceEnv as Record<string, string>), KAFKA_BROKERS: brokers!.join(',') },
      });
      backends.describe.api = `${workers} API processes (serve --workers ${workers}) at ${api.url}`;
    }
    const url = api?.url ?? ownUrl;
    const runs: RunReport[] = [];
    const skipped = options.strategies.flatMap((strategy) => {
      const reason = backends.skipped[strategy];
      return reason ? [{ strategy, reason }] : [];
    });
    for (const { strategy, reason } of skipped) options.progress(`\n▷ ${strategy} skipped: ${reason}`);
    if (options.admissionModes) {
      const strategy = options.strategies.find((name) => !backends.skipped[name]);
      if (strategy) await warmUp(service, url!, strategy, options);
      for (const mode of strategy ? options.admissionModes : [])
        runs.push(await runAdmission(service, url!, strategy!, mode, options));
    } else {
      for (const strategy of options.strategies) {
        if (!backends.skipped[strategy]) runs.push(await runOne(service, url!, strategy, options));
      }
    }
    return {
      generatedAt: new Date().toISOString(),
      scenario: {
        name: options.scenario,
        stock: options.stock,
        segments: options.segments,
        users: options.users,
        requests: options.requests,
        concurrency: options.connections,
        ratePerSec: options.ratePerSec,
        duplicateRatio: options.duplicateRatio,
        payRatio: options.payRatio,
        paymentTimeoutMs: options.paymentTimeoutMs,
        ...(options.admissionModes ? { admission: admissionCrowdOf(options) } : {}),
      },
      backends: {
        ...backends.describe,
        kafka: config.kafka.brokers
          ? backends.describe.kafka
          : `${backends.describe.kafka} ${service.running.brokers}`,
      },
      runs,
      skipped,
    };
  } finally {
    await api?.stop();
    await service.stop();
    await backends.stop();
  }
}

async function runOne(
  service: Service,
  url: string,
  strategy: StrategyName,
  options: SimOptions,
): Promise<RunReport> {
  options.progress(
    `\n▶ ${strategy}: ${options.stock} units, ${options.requests} requests from ${options.users} users`,
  );
  const sale = await service.sales.create({
    name: `sim ${options.scenario} ${strategy}`,
    stock: options.stock,
    segments: options.segments,
    strategy,
    paymentTimeoutMs: options.paymentTimeoutMs,
  });
  const payer = new Payer(service, options.payRatio, options.seed);
  const stock = service.stock.get(strategy);
  const crowd = await driveCrowd({
    url,
    itemId: sale.itemId,
    users: options.users,
    requests: options.requests,
    duplicateRatio: options.duplicateRatio,
    connections: options.connections,
    ratePerSec: options.ratePerSec,
    seed: options.seed,
    onProgress: (p) => {
      options.progress(formatProgress(p));
      void payer.payNewOrders(sale.itemId).catch(() => undefined); // the final pass below retries
    },
    sampleRemainingStock: () => stock.remaining(sale),
    authorize: buyerAuthorization(service),
  });
  const drainStart = Date.now();
  await payer.payNewOrders(sale.itemId);
  const stats = await waitForQuiescence(service, sale.itemId, options);
  const timeToDrainMs = Date.now() - drainStart;
  const reconciliation = toReconciliation(stats);
  const expectedSafe = !UNSAFE_BY_DESIGN.has(strategy);
  const clean =
    reconciliation.oversell === 0 && reconciliation.undersell === 0 && reconciliation.dbDrift === 0;
  return {
    strategy,
    expectedSafe,
    verdict: clean ? 'pass' : expectedSafe ? 'fail' : 'unsafe (expected)',
    requests: crowd.requests,
    durationMs: crowd.durationMs,
    ratePerSec: crowd.ratePerSec,
    latencyMs: crowd.latencyMs,
    outcomes: crowd.outcomes,
    reconciliation,
    timeToSellOutMs: crowd.timeToSellOutMs,
    timeToDrainMs,
    timeline: crowd.timeline,
    fairness: fairnessOf(
      crowd.arrivals,
      crowd.orders.map((order) => order.userId),
      options.stock,
    ),
  };
}

export function admissionCrowdOf(options: Pick<SimOptions, 'admissionCrowd'>): AdmissionCrowd {
  const { visitorsPerUnit: _, ...defaults } = ADMISSION_DEFAULTS;
  return { ...defaults, ...options.admissionCrowd };
}

/**
 * A small sale behind a fifo room before the measured ones, unreported: the first run would otherwise pay for a
 * cold process (JIT, pools, prepared statements) in its latencies, and every mode should start from the same state.
 */
async function warmUp(service: Service, url: string, strategy: StrategyName, options: SimOptions) {
  options.progress('\n▷ warm-up sale (not reported)');
  const settings = admissionCrowdOf(options);
  const crowd = planVisitors({
    ...settings,
    visitors: 200,
    arrivalWindowMs: 500,
    seed: options.seed + 1,
    userPrefix: 'warm',
  });
  for (const mode of ['fifo', 'off'] as const) {
    const sale = await service.sales.create({
      name: `sim ${options.scenario} warm-up ${mode}`,
      stock: 20,
      segments: options.segments,
      strategy,
      paymentTimeoutMs: options.paymentTimeoutMs,
      admission: admissionSettings(
        mode === 'off' ? undefined : { mode, ratePerSec: 200, passTtlMs: settings.passTtlMs },
      ),
    });
    await driveVisitors({
      url,
      itemId: sale.itemId,
      mode,
      crowd,
      passTtlMs: settings.passTtlMs,
      maxDurationMs: 20_000,
    });
  }
}

/**
 * One sale in one admission mode to the crowd of visitors (the same plan for every mode: same seed, same crowd).
 * off and fifo open the sale as the crowd starts (fifo without a pre-queue, so it admits in arrival order); random
 * opens its pre-queue then and starts the sale `preQueueMs` later, so that the lottery has a pre-queue whose
 * arrival-time buckets the uniformity test compares.
 */
async function runAdmission(
  service: Service,
  url: string,
  strategy: StrategyName,
  mode: AdmissionMode,
  options: SimOptions,
): Promise<RunReport> {
  const settings = admissionCrowdOf(options);
  const crowd = planVisitors({ ...settings, visitors: options.users, seed: options.seed });
  options.progress(
    `\n▶ ${strategy}, admission ${mode}: ${options.stock} units, ${crowd.length} visitors over ${settings.arrivalWindowMs} ms`,
  );
  // The connections first (opening hundreds takes a while on a busy machine), so that the pre-queue's window is the
  // crowd's and not spent waiting for them.
  const agent = await openVisitorAgent(url);
  const now = Date.now();
  const preQueue = mode === 'random' && settings.preQueueMs > 0;
  const startsAt = preQueue ? new Date(now + settings.preQueueMs) : undefined;
  const sale = await service.sales.create({
    name: `sim ${options.scenario} ${strategy} ${mode}`,
    stock: options.stock,
    segments: options.segments,
    strategy,
    paymentTimeoutMs: options.paymentTimeoutMs,
    startsAt,
    admission: admissionSettings(
      mode === 'off'
        ? undefined
        : {
            mode,
            ratePerSec: settings.ratePerSec,
            maxUnfinished: mode === 'random' ? settings.randomMaxUnfinished : settings.maxUnfinished,
            passTtlMs: settings.passTtlMs,
            preQueueOpensAt: preQueue ? new Date(now - 1000).toISOString() : undefined,
            seed: String(options.seed),
          },
    ),
  });
  const payer = new Payer(service, options.payRatio, options.seed);
  const stock = service.stock.get(strategy);
  let sampled = 0;
  const result = await driveVisitors({
    url,
    itemId: sale.itemId,
    mode,
    crowd,
    agent,
    passTtlMs: settings.passTtlMs,
    maxDurationMs: settings.maxDurationMs,
    sampleRemainingStock: () => stock.remaining(sale),
    onSample: (elapsedMs) => {
      if (sampled++ % 4 === 0) options.progress(`${mode}: ${(elapsedMs / 1000).toFixed(1)} s`);
      void payer.payNewOrders(sale.itemId).catch(() => undefined);
    },
  });
  const drainStart = Date.now();
  await payer.payNewOrders(sale.itemId);
  const stats = await waitForQuiescence(service, sale.itemId, options);
  const timeToDrainMs = Date.now() - drainStart;
  const reconciliation = toReconciliation(stats);
  const clean =
    reconciliation.oversell === 0 && reconciliation.undersell === 0 && reconciliation.dbDrift === 0;
  const { fairness, arrivalRankByGrant } = admissionFairnessOf({
    mode,
    stock: options.stock,
    records: result.records,
    purchaseLatencies: result.purchaseLatencies,
    preQueueEndsAtMs: startsAt ? startsAt.getTime() - result.startedAt : undefined,
  });
  const expectedSafe = !UNSAFE_BY_DESIGN.has(strategy);
  return {
    strategy,
    admission: mode,
    expectedSafe,
    verdict: clean ? 'pass' : expectedSafe ? 'fail' : 'unsafe (expected)',
    requests: result.requests,
    requestsByRoute: result.requestsByRoute,
    durationMs: result.durationMs,
    ratePerSec: result.durationMs > 0 ? (result.requests * 1000) / result.durationMs : 0,
    latencyMs: summarizeLatency(result.latencies),
    outcomes: result.outcomes,
    reconciliation,
    timeToSellOutMs: result.timeToSellOutMs,
    timeToDrainMs,
    timeline: result.timeline,
    fairness,
    arrivalRankByGrant,
  };
}

/** Token mode: each buyer of the crowd gets its own signed token (minted once per user by the driver). */
function buyerAuthorization(service: Service): ((userId: string) => string) | undefined {
  const auth = service.config.buyerAuth;
  if (auth.mode === 'open') return undefined;
  return (userId) => `Bearer ${mintBuyerToken(auth.secret, userId)}`;
}

const PAYMENT_CONCURRENCY = 32;

/**
 * Pays a deterministic share of the orders (by a hash of the order's user), the rest are left to expire. Runs while
 * the crowd is still buying so that payments land inside the payment window, as real buyers' would.
 */
class Payer {
  private seen = new Set<string>();
  private busy = false;

  constructor(
    private readonly service: Service,
    private readonly payRatio: number,
    private readonly seed: number,
  ) {}

  async payNewOrders(itemId: string): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const pending = await this.service.db.order.findMany({
        where: { itemId: BigInt(itemId), status: 'PENDING_PAYMENT' },
        select: { id: true, userId: true },
      });
      const fresh = pending.filter((order) => !this.seen.has(order.id.toString()));
      fresh.forEach((order) => this.seen.add(order.id.toString()));
      const payers = fresh.filter((order) => shareOf(`${this.seed}:${order.userId}`) < this.payRatio);
      // Buyers pay side by side, as real ones would; one at a time would let most windows close first.
      for (let i = 0; i < payers.length; i += PAYMENT_CONCURRENCY) {
        await Promise.all(
          payers
            .slice(i, i + PAYMENT_CONCURRENCY)
            .map((order) =>
              this.service.payments.pay(order.id.toString(), order.userId).catch(() => undefined),
            ),
        );
      }
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Quiescence: every order is paid or expired (when the payment window is short enough to wait for), the outbox is
 * empty, the consumer has applied everything it was sent, and two snapshots in a row agree (one snapshot alone can
 * be torn: an expiry may land between its queries).
 */
async function waitForQuiescence(service: Service, itemId: string, options: SimOptions): Promise<ItemStats> {
  const waitForExpiry = options.paymentTimeoutMs <= 60_000;
  const deadline = Date.now() + options.drainTimeoutMs + (waitForExpiry ? options.paymentTimeoutMs : 0);
  let previous = '';
  for (;;) {
    const pendingPayment = waitForExpiry
      ? await service.db.order.count({ where: { itemId: BigInt(itemId), status: 'PENDING_PAYMENT' } })
      : 0;
    const stats = (await service.stats()).find((item) => item.itemId === itemId)!;
    const quiet = pendingPayment === 0 && stats.outboxPending === 0 && stats.consumerLag === 0;
    const snapshot = JSON.stringify(stats);
    if ((quiet && snapshot === previous) || Date.now() > deadline) return stats;
    previous = quiet ? snapshot : '';
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function toReconciliation(stats: ItemStats): Reconciliation {
  return {
    initialStock: stats.initialStock,
    redisRemaining: stats.redisRemaining,
    activeOrders: stats.activeOrders,
    paidOrders: stats.paidOrders,
    cancelledOrders: stats.cancelledOrders,
    dbStock: stats.dbStock,
    outboxPending: stats.outboxPending,
    consumerLag: stats.consumerLag,
    oversell: stats.oversell,
    undersell: stats.undersell,
    dbDrift: stats.dbDrift,
  };
}
