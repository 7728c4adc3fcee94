// Composition root: builds every part of the service from one Config and runs any mix of roles in one process.
// main.ts, the simulator and the tests all start here.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Worker } from 'bullmq';
import type { Kafka, Producer } from 'kafkajs';
import type { Config } from './config';
import { createHttpListener } from './http/app';
import { createProtection } from './http/protection';
import { InventoryConsumer, type ConsumerOptions } from './inventory/consumer';
import { ItemCache } from './inventory/item-cache';
import { createKafka, createProducer, ensureTopics } from './infra/kafka';
import { createLogger, type Logger } from './infra/logger';
import { createPrisma } from './infra/prisma';
import { createQueue, createWorker, QUEUES } from './infra/queues';
import { createRedis } from './infra/redis';
import { startBroker, type RunningBroker } from './kafka-broker';
import { createServicePools } from './infra/postgres';
import { statsRefresh } from './metrics/reconciliation';
import { createMetrics, recordRoom } from './metrics/registry';
import { ORDERS_TOPIC } from './order-events';
import { IdGenerator, leaseWorkerId } from './orders/ids';
import { DatabaseLedger } from './orders/ledger';
import { OrderStore } from './orders/order-store';
import { OrderWriter } from './orders/order-writer';
import { Payments } from './orders/payment';
import type { PlaceOrderDeps } from './orders/place-order';
import { Sales } from './orders/sales';
import { workerSweep } from './orders/worker-sweep';
import { OutboxRelay, type RelayOptions } from './outbox/relay';
import { createStock } from './stock';
import { RoomPasses, roomKey } from './waiting-room/passes';
import { RedisRoomStore } from './waiting-room/redis-room';
import { RoomViews } from './waiting-room/room-view';
import { WaitingRoom } from './waiting-room/waiting-room';

export const ROLES = ['api', 'relay', 'consumer', 'worker'] as const;
export type Role = (typeof ROLES)[number];

export interface ServiceOptions {
  log?: Logger;
  /** Test seams: fault injection in the relay, short group timeouts in the consumer. */
  relay?: Pick<RelayOptions, 'afterPublish'>;
  consumer?: ConsumerOptions;
}

export type Service = ReturnType<typeof buildService>;

export function buildService(config: Config, options: ServiceOptions = {}) {
  const log = options.log ?? createLogger(config.logLevel);
  const redis = createRedis(config.redis);
  const pools = createServicePools(
    config.databaseUrl,
    {
      purchase: config.orders.batch.concurrency + 1,
      pipeline: config.outbox.lanes + 2,
      general: config.databasePoolSize,
    },
    log,
  );
  const db = createPrisma(pools.general);
  const metrics = createMetrics();
  const ids = new IdGenerator(config.orders.workerId);
  const ledger = new DatabaseLedger(db);
  const stock = createStock(redis, ledger, config.stock, {
    onAttempt: (result) => metrics.lockAttempts.inc({ result }),
    onRepair: (itemId, kind, count) => {
      metrics.stockRepairs.inc({ kind }, count);
      if (count) log.warn({ itemId, kind, count }, 'Redis stock put right from the ledger');
    },
    onRepairError: (itemId, err) => log.warn({ itemId, err }, 'stock repair failed; the next one retries'),
  });
  const rooms = new RedisRoomStore(redis);
  const sales = new Sales(db, stock, rooms);
  const orders = new OrderStore(db, ids);
  const paymentTimeouts = createQueue(config.redis, QUEUES.paymentTimeout);
  const secondDeletes = createQueue(config.redis, QUEUES.cacheSecondDelete);
  const itemCache = new ItemCache(redis, db, secondDeletes, metrics, config.cache);
  const adminToken = config.adminToken ?? randomBytes(24).toString('base64url');
  const roomViews = new RoomViews(rooms, {
    refreshMs: config.waitingRoom.refreshMs,
    awayAfterMs: config.waitingRoom.awayAfterMs,
    soldOutHere: (sale) => stock.get(sale.strategy).seenSoldOut(sale.itemId),
    onRefresh: (room, view) => recordRoom(metrics, room.itemId, view),
    onError: (itemId, err) =>
      log.warn({ itemId, err }, 'waiting room not refreshed; the next refresh retries'),
  });
  const room = new WaitingRoom({
    store: rooms,
    views: roomViews,
    passes: new RoomPasses(roomKey(adminToken)),
    onPassRefused: (code) => metrics.passesRefused.inc({ code }),
    onBookkeepingError: (itemId, err) => log.warn({ itemId, err }, 'waiting room not told a purchase answer'),
  });
  const payments = new Payments(db, orders, sales, stock, room, paymentTimeouts, log);
  const writer = new OrderWriter(pools.purchase, ids, log, {
    ...config.orders.batch,
    onBatch: (size, seconds) => {
      metrics.orderBatchSize.observe(size);
      metrics.orderCommitDuration.observe(seconds);
    },
    afterCommit: (committed) => {
      metrics.ordersCreated.inc(committed.length);
      running.relay?.wake();
      payments.scheduleTimeouts(committed).catch((err) => {
        log.warn(
          { err, orders: committed.length },
          'payment timeouts not scheduled; the overdue sweep expires them',
        );
      });
    },
  });

  const running: {
    server?: Server;
    url?: string;
    broker?: RunningBroker;
    kafka?: Kafka;
    brokers?: string[];
    producer?: Producer;
    relay?: OutboxRelay;
    consumer?: InventoryConsumer;
    workers: Worker[];
    stopSweeps?: () => Promise<void>;
    releaseWorkerId?: () => Promise<void>;
  } = { workers: [] };

  const purchase: PlaceOrderDeps = { sales, stock, writer, ids, room, log };

  const stats = statsRefresh({ db, stock, sales: (tx) => sales.all(tx) }, metrics);
  const sweep = workerSweep({
    db,
    sales,
    stock,
    payments,
    ledger,
    room,
    reservationGraceMs: config.stock.reservationGraceMs,
    overdueAfterMs: config.sweepIntervalMs,
  });

  async function connectKafka(): Promise<Kafka> {
    if (running.kafka) return running.kafka;
    if (!config.kafka.brokers) {
      running.broker = await startBroker({
        port: config.kafka.embeddedPort,
        dataDir: config.kafka.embeddedDataDir,
        logger: log.child({ component: 'kafka-broker' }),
      });
      log.info({ address: running.broker.address }, 'embedded Kafka broker started (KAFKA_BROKERS is unset)');
    }
    running.brokers = config.kafka.brokers ?? [running.broker!.address];
    running.kafka = createKafka(running.brokers, log);
    await ensureTopics(running.kafka, [ORDERS_TOPIC], config.kafka.partitions);
    return running.kafka;
  }

  async function startRelay(kafka: Kafka) {
    running.producer = createProducer(kafka);
    await running.producer.connect();
    running.relay = new OutboxRelay(pools.pipeline, running.producer, log, metrics, {
      ...config.outbox,
      ...options.relay,
    });
    running.relay.start();
  }

  async function startConsumer(kafka: Kafka) {
    running.consumer = new InventoryConsumer(kafka, pools.pipeline, itemCache, log, metrics, {
      sessionTimeout: config.kafka.sessionTimeoutMs,
      heartbeatInterval: Math.floor(config.kafka.sessionTimeoutMs / 10),
      ...options.consumer,
    });
    await running.consumer.start();
  }

  function startWorkers() {
    running.workers.push(
      createWorker(
        config.redis,
        QUEUES.paymentTimeout,
        () => payments.expireDue(),
        config.orders.expiryConcurrency,
      ),
      createWorker<{ itemId: string }>(config.redis, QUEUES.cacheSecondDelete, (job) =>
        itemCache.deleteSecond(job.data.itemId),
      ),
    );
    running.stopSweeps = repeatUntilStopped(config.sweepIntervalMs, sweep, log);
  }

  async function listen(): Promise<string> {
    const listener = createHttpListener({
      log,
      adminToken,
      buyerAuth: config.buyerAuth,
      observerToken: config.observerToken,
      maxBodyBytes: config.http.maxBodyBytes,
      defaults: {
        segments: config.stock.defaultSegments,
        strategy: config.stock.strategy,
        paymentTimeoutMs: config.orders.paymentTimeoutMs,
      },
      purchase,
      orders,
      payments,
      itemCache,
      metrics,
      protection: createProtection(redis, config.protection),
      stats,
      readiness: {
        redis: () => redis.ping(),
        postgres: () => db.$queryRaw`SELECT 1`,
        ...(running.kafka ? { kafka: () => kafkaReachable(running.kafka!) } : {}),
      },
    });
    return new Promise((resolve, reject) => {
      const server = createServer(listener);
      server.once('error', reject);
      server.listen(config.http.port, config.http.host, () => {
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : config.http.port;
        running.server = server;
        running.url = `http://${config.http.host}:${port}`;
        resolve(running.url);
      });
    });
  }

  return {
    config,
    log,
    redis,
    db,
    metrics,
    stock,
    sales,
    purchase,
    writer,
    payments,
    itemCache,
    adminToken,
    running,
    stats,
    /** One pass of the worker's backstops (the worker role runs it every SWEEP_INTERVAL_MS). */
    sweep,
    /** Reaches Kafka (starting the embedded broker when none is configured) and creates the topics. */
    connectKafka,
    /** Starts the roles; returns the HTTP address when the api role runs. */
    async start(roles: readonly Role[]): Promise<{ url?: string; brokers?: string[] }> {
      if (!ids.hasWorker) running.releaseWorkerId = await leaseWorkerId(redis, ids, log);
      const kafka = roles.some((role) => role !== 'worker') ? await connectKafka() : undefined;
      if (kafka && roles.includes('relay')) await startRelay(kafka);
      if (kafka && roles.includes('consumer')) await startConsumer(kafka);
      if (roles.includes('worker')) startWorkers();
      if (roles.includes('api')) await listen();
      return { url: running.url, brokers: running.brokers };
    },
    /** Graceful: stop taking requests, finish in-flight work, commit offsets, close connections. */
    async stop(): Promise<void> {
      await new Promise<void>((resolve) => {
        if (!running.server) return resolve();
        running.server.close(() => resolve());
        running.server.closeIdleConnections(); // keep-alive sockets with no request in flight
      });
      await writer.flush();
      roomViews.stop();
      await running.stopSweeps?.();
      await running.relay?.stop();
      await running.consumer?.stop();
      await Promise.allSettled(running.workers.map((worker) => worker.close()));
      await running.producer?.disconnect();
      await Promise.allSettled([paymentTimeouts.close(), secondDeletes.close()]);
      await running.broker?.stop();
      await running.releaseWorkerId?.().catch(() => undefined);
      await stock.close();
      await db.$disconnect().catch(() => undefined);
      await Promise.allSettled([pools.end(), redis.quit()]);
    },
  };
}

/**
 * Runs `work` every `intervalMs`, never two at once (a slow sweep must not overlap the next); the returned stop
 * waits for the run in progress, so connections are not closed under it.
 */
function repeatUntilStopped(intervalMs: number, work: () => Promise<void>, log: Logger): () => Promise<void> {
  let stopped = false;
  let current: Promise<void> = Promise.resolve();
  let timer = setTimeout(run, intervalMs);
  function run() {
    current = work()
      .catch((err) => log.warn({ err }, 'sweep failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(run, intervalMs);
      });
  }
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await current;
  };
}

async function kafkaReachable(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}
