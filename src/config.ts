// The one place that reads the environment. Everything else receives a typed Config.
import { z } from 'zod';

export const STRATEGY_NAMES = [
  'segmented-lock',
  'lua',
  'global-lock',
  'naive',
  'db',
  'etcd-lock',
  'zk-lock',
  'redlock',
  'db-lock',
] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

const int = (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback);
const commaList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean),
  )
  .optional();

const envSchema = z
  .object({
    HOST: z.string().min(1).default('127.0.0.1'),
    PORT: int(3000).pipe(z.number().max(65535)),
    REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
    /** Comma list of Redis Cluster seed nodes (host:port); set, every Redis client is a cluster client, REDIS_URL unused. */
    REDIS_CLUSTER_NODES: commaList.refine(
      (nodes) => !nodes?.some((node) => !/^[^:\s]+:\d{1,5}$/.test(node)),
      { message: 'REDIS_CLUSTER_NODES is a comma list of host:port' },
    ),
    DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/seckill'),
    DATABASE_POOL_SIZE: int(10, 1),
    /** Comma list of brokers; unset means "start the embedded broker". */
    KAFKA_BROKERS: commaList,
    KAFKA_DATA_DIR: z.string().default('.data/kafka'),
    /** How long the group waits for a silent consumer before giving its partitions to another. */
    KAFKA_SESSION_TIMEOUT_MS: int(30_000, 1000),
    /** Port of the embedded broker; 0 picks a free one (printed at start). */
    KAFKA_EMBEDDED_PORT: int(0).pipe(z.number().max(65535)),
    /** Partitions of seckill.orders when the service creates it (an existing topic keeps its own). */
    KAFKA_PARTITIONS: int(3, 1).pipe(z.number().max(1024)),
    /** Unset means "generate one at start and print it once". */
    ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
    /** `open`: the buyer is the body's userId (load tests); `token`: whoever a signed JWT (HS256) says. */
    BUYER_AUTH: z.enum(['open', 'token']).default('open'),
    /** HMAC secret of buyer tokens; required (≥ 32 chars) when BUYER_AUTH=token, checked below. */
    BUYER_TOKEN_SECRET: z.string().min(32, 'BUYER_TOKEN_SECRET must be at least 32 characters').optional(),
    /** Set: /stats and /metrics need Authorization: Bearer <OBSERVER_TOKEN>. Unset: open. */
    OBSERVER_TOKEN: z.string().min(16, 'OBSERVER_TOKEN must be at least 16 characters').optional(),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),

    STOCK_STRATEGY: z.enum(STRATEGY_NAMES).default('segmented-lock'),
    DEFAULT_SEGMENTS: int(8, 1).pipe(z.number().max(1024)),
    /** A segment lock is held for three Redis round trips; the TTL only matters when its holder dies. */
    LOCK_TTL_MS: int(200, 10),
    /** etcd-lock: comma list of etcd client URLs (http://127.0.0.1:2379). Unset: etcd-lock sales cannot be created. */
    ETCD_ENDPOINTS: commaList,
    /** zk-lock: ZooKeeper connection string (127.0.0.1:2181[,host:port…]). Unset: zk-lock sales cannot be created. */
    ZOOKEEPER_CONNECT: z.string().min(1).optional(),
    /** redlock: comma list of three or more independent Redis servers (not REDIS_URL, whose data is the stock). */
    REDLOCK_URLS: commaList.refine((urls) => !urls?.length || urls.length >= 3, {
      message: 'REDLOCK_URLS needs at least three independent Redis servers',
    }),
    /**
     * Lease of the etcd-lock, zk-lock, redlock and db-lock locks: etcd lease TTL (rounded up to whole seconds), ZooKeeper
     * session timeout, Redlock TTL, PostgreSQL idle_in_transaction_session_timeout. Only matters when a holder stalls.
     */
    LOCK_LEASE_MS: int(2000, 1000),
    /** How long a purchase keeps trying segments whose locks are held before answering "busy". */
    LOCK_WAIT_MS: int(2000, 1),
    /** A process that saw an item sold out answers from memory for this long before asking Redis again. */
    SOLD_OUT_RECHECK_MS: int(250, 0),
    /** Reservations older than this with no order behind them are given back by the sweeper. */
    RESERVATION_GRACE_MS: int(30_000, 1),

    PAYMENT_TIMEOUT_MS: int(15 * 60_000, 1),
    /** Group commit: at most this many orders per transaction… */
    ORDER_BATCH_MAX: int(256, 1).pipe(z.number().max(10_000)),
    /** …collected for at most this long after the first one arrives. */
    ORDER_BATCH_LINGER_MS: int(2, 0),
    /** Orders waiting for a batch; beyond this a purchase is answered 503 busy at once. */
    ORDER_QUEUE_MAX: int(4096, 1),
    /**
     * Batches committing at once; each holds one connection of the purchase path's own pool. 1: batches of one hot
     * item serialise on its ledger rows anyway, and one at a time they grow (fewer transactions: bench:cpu).
     */
    ORDER_BATCH_CONCURRENCY: int(1, 1),
    /**
     * An order still queued after this long (behind a batch stalled on a failover or a synchronous standby) is answered
     * 503 busy and its unit goes back: buyers hear within their patience, not after they have given up.
     */
    ORDER_QUEUE_WAIT_MS: int(1000, 10),
    /** How long a commit whose reply was lost is chased (read back) before the sweeper is left to settle it. */
    ORDER_RESOLVE_TIMEOUT_MS: int(10_000, 100),
    /** Batches in a row finding PostgreSQL away (no or a broken connection) before purchases answer busy at once… */
    DB_BREAKER_FAILURES: int(3, 1),
    /** …and how long it answers so before one purchase tries the database again. */
    DB_BREAKER_HALF_OPEN_MS: int(1000, 10),
    /** 0–1023: keeps order ids unique across processes. Unset: leased from Redis (no two live processes share one). */
    WORKER_ID: z.coerce.number().int().min(0).max(1023).optional(),
    /** Expiry jobs run at once; they use the general pool, never the purchase path's. */
    EXPIRY_CONCURRENCY: int(4, 1),
    MAX_BODY_BYTES: int(8 * 1024, 64),

    RATE_LIMIT_USER_PER_SEC: int(5, 0),
    RATE_LIMIT_IP_PER_SEC: int(0, 0),
    MAX_IN_FLIGHT: int(1024, 0),

    /** Rows per relay batch: one claim, one produce request per partition leader, one UPDATE to mark them SENT. */
    OUTBOX_BATCH_SIZE: int(1000, 1),
    /** Relay claim loops side by side, each on its own share of the order ids (per-order order is kept). */
    OUTBOX_LANES: int(2, 1).pipe(z.number().max(64)),
    OUTBOX_MAX_IDLE_MS: int(200, 1),
    /**
     * After a partial batch, how long the relay waits for more rows before the next claim. Each batch costs the relay
     * a transaction and a produce, the broker an fsync and the consumer a fetch and a statement: 300 rather than 100
     * cut the three processes' CPU per order by a quarter to a third under a crowd, and the pipeline still drains
     * within half a second of it.
     */
    OUTBOX_LINGER_MS: int(300, 0),
    OUTBOX_RETENTION_MS: int(3600_000, 0),
    CACHE_TTL_MS: int(30_000, 1),
    CACHE_MISSING_TTL_MS: int(2_000, 1),
    CACHE_DOUBLE_DELETE_DELAY_MS: int(500, 0),
    /** How often the worker role sweeps stale reservations and overdue unpaid orders (backstops of the jobs). */
    /** How often each api process refreshes its copy of a waiting room (and runs the room's inlet). */
    WAITING_ROOM_REFRESH_MS: z.coerce.number().int().min(10).max(5000).default(100),
    /** A waiting visitor not seen polling for this long when their turn comes is skipped until their next poll. */
    WAITING_ROOM_AWAY_AFTER_MS: z.coerce.number().int().min(0).max(3_600_000).default(10_000),
    SWEEP_INTERVAL_MS: int(5_000, 10),
  })
  .refine((env) => env.BUYER_AUTH === 'open' || env.BUYER_TOKEN_SECRET !== undefined, {
    message: 'BUYER_TOKEN_SECRET (at least 32 characters) is required when BUYER_AUTH=token',
    path: ['BUYER_TOKEN_SECRET'],
  });

export type Env = z.infer<typeof envSchema>;

export interface Config {
  http: { host: string; port: number; maxBodyBytes: number };
  protection: { userPerSec: number; ipPerSec: number; maxInFlight: number };
  redis: RedisTarget;
  databaseUrl: string;
  databasePoolSize: number;
  kafka: {
    brokers: string[] | undefined;
    embeddedDataDir: string;
    embeddedPort: number;
    sessionTimeoutMs: number;
    partitions: number;
  };
  adminToken: string | undefined;
  buyerAuth: { mode: 'open' } | { mode: 'token'; secret: string };
  observerToken: string | undefined;
  logLevel: Env['LOG_LEVEL'];
  stock: {
    strategy: StrategyName;
    defaultSegments: number;
    lockTtlMs: number;
    lockWaitMs: number;
    soldOutRecheckMs: number;
    reservationGraceMs: number;
    locks: LockBackendsConfig;
  };
  orders: {
    paymentTimeoutMs: number;
    workerId: number | undefined;
    expiryConcurrency: number;
    batch: {
      maxBatch: number;
      lingerMs: number;
      maxQueued: number;
      concurrency: number;
      maxQueueWaitMs: number;
      resolveTimeoutMs: number;
      breaker: { failures: number; halfOpenAfterMs: number };
    };
  };
  outbox: { batchSize: number; lanes: number; maxIdleMs: number; lingerMs: number; retentionMs: number };
  cache: { ttlMs: number; missingTtlMs: number; secondDeleteDelayMs: number };
  sweepIntervalMs: number;
  waitingRoom: { refreshMs: number; awayAfterMs: number };
}

/** Where the service's Redis is: one server, or a Redis Cluster reached through its seed nodes. */
export type RedisTarget =
  { url: string; clusterNodes?: undefined } | { url?: undefined; clusterNodes: string[] };

export interface LockBackendsConfig {
  etcdEndpoints: string[] | undefined;
  zookeeperConnect: string | undefined;
  redlockUrls: string[] | undefined;
  /** db-lock locks rows of this database. */
  databaseUrl: string;
  leaseMs: number;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return {
    http: { host: e.HOST, port: e.PORT, maxBodyBytes: e.MAX_BODY_BYTES },
    protection: {
      userPerSec: e.RATE_LIMIT_USER_PER_SEC,
      ipPerSec: e.RATE_LIMIT_IP_PER_SEC,
      maxInFlight: e.MAX_IN_FLIGHT,
    },
    redis: e.REDIS_CLUSTER_NODES?.length ? { clusterNodes: e.REDIS_CLUSTER_NODES } : { url: e.REDIS_URL },
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    kafka: {
      brokers: e.KAFKA_BROKERS?.length ? e.KAFKA_BROKERS : undefined,
      embeddedDataDir: e.KAFKA_DATA_DIR,
      embeddedPort: e.KAFKA_EMBEDDED_PORT,
      sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
      partitions: e.KAFKA_PARTITIONS,
    },
    adminToken: e.ADMIN_TOKEN,
    buyerAuth: e.BUYER_AUTH === 'token' ? { mode: 'token', secret: e.BUYER_TOKEN_SECRET! } : { mode: 'open' },
    observerToken: e.OBSERVER_TOKEN,
    logLevel: e.LOG_LEVEL,
    stock: {
      strategy: e.STOCK_STRATEGY,
      defaultSegments: e.DEFAULT_SEGMENTS,
      lockTtlMs: e.LOCK_TTL_MS,
      lockWaitMs: e.LOCK_WAIT_MS,
      soldOutRecheckMs: e.SOLD_OUT_RECHECK_MS,
      reservationGraceMs: e.RESERVATION_GRACE_MS,
      locks: {
        etcdEndpoints: e.ETCD_ENDPOINTS?.length ? e.ETCD_ENDPOINTS : undefined,
        zookeeperConnect: e.ZOOKEEPER_CONNECT,
        redlockUrls: e.REDLOCK_URLS?.length ? e.REDLOCK_URLS : undefined,
        databaseUrl: e.DATABASE_URL,
        leaseMs: e.LOCK_LEASE_MS,
      },
    },
    orders: {
      paymentTimeoutMs: e.PAYMENT_TIMEOUT_MS,
      workerId: e.WORKER_ID,
      expiryConcurrency: e.EXPIRY_CONCURRENCY,
      batch: {
        maxBatch: e.ORDER_BATCH_MAX,
        lingerMs: e.ORDER_BATCH_LINGER_MS,
        maxQueued: e.ORDER_QUEUE_MAX,
        concurrency: e.ORDER_BATCH_CONCURRENCY,
        maxQueueWaitMs: e.ORDER_QUEUE_WAIT_MS,
        resolveTimeoutMs: e.ORDER_RESOLVE_TIMEOUT_MS,
        breaker: { failures: e.DB_BREAKER_FAILURES, halfOpenAfterMs: e.DB_BREAKER_HALF_OPEN_MS },
      },
    },
    outbox: {
      batchSize: e.OUTBOX_BATCH_SIZE,
      lanes: e.OUTBOX_LANES,
      maxIdleMs: e.OUTBOX_MAX_IDLE_MS,
      lingerMs: e.OUTBOX_LINGER_MS,
      retentionMs: e.OUTBOX_RETENTION_MS,
    },
    cache: {
      ttlMs: e.CACHE_TTL_MS,
      missingTtlMs: e.CACHE_MISSING_TTL_MS,
      secondDeleteDelayMs: e.CACHE_DOUBLE_DELETE_DELAY_MS,
    },
    sweepIntervalMs: e.SWEEP_INTERVAL_MS,
    waitingRoom: { refreshMs: e.WAITING_ROOM_REFRESH_MS, awayAfterMs: e.WAITING_ROOM_AWAY_AFTER_MS },
  };
}
