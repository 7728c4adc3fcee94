// Test stacks on the real services: a fresh PostgreSQL database per test file (migrated by Prisma's CLI), a Redis
// database index of its own (flushed), and the service listening on an ephemeral port.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { loadConfig, type Config } from '../../src/config';
import { applyMigrations } from '../../src/infra/migrations';
import pino from 'pino';
import { tailDestination } from '../../src/infra/output-tails';
import { buildService, type Role, type Service, type ServiceOptions } from '../../src/service';
import { createRedis } from '../../src/infra/redis';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
const SERVER_URL = process.env.TEST_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432';
const REDIS_BASE = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `seckill_test_${randomBytes(4).toString('hex')}`;
  const url = `${SERVER_URL}/${name}`;
  await applyMigrations(url);
  return {
    url,
    async drop() {
      const admin = new Client({ connectionString: `${SERVER_URL}/postgres` });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    },
  };
}

/** Each test file gets its own Redis logical database (1–15), flushed, so files cannot see each other's keys. */
export async function freshRedisUrl(index: number): Promise<string> {
  const url = `${REDIS_BASE}/${index}`;
  const redis = createRedis(url);
  await redis.flushdb();
  await redis.quit();
  return url;
}

export interface TestStack {
  service: Service;
  config: Config;
  url: string;
  databaseUrl: string;
  createSale(body: Record<string, unknown>): Promise<{ itemId: string; stock: number; segments: number }>;
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  get(path: string): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Reach the test's fresh database another way (through a fault-injecting proxy, say). */
  viaDatabaseUrl?: (url: string) => string;
  roles?: Role[];
  service?: ServiceOptions;
}

/** The service on fresh stores, with the embedded Kafka broker in a temporary folder. */
export async function startStack(redisIndex: number, options: StackOptions = {}): Promise<TestStack> {
  const database = await freshDatabase();
  const kafkaDir = mkdtempSync(join(tmpdir(), 'seckill-kafka-'));
  const config = loadConfig({
    DATABASE_URL: options.viaDatabaseUrl ? options.viaDatabaseUrl(database.url) : database.url,
    // A test that brings its own Redis (a private server) never touches the shared one.
    REDIS_URL:
      options.env?.REDIS_URL ??
      (options.env?.REDIS_CLUSTER_NODES ? undefined : await freshRedisUrl(redisIndex)),
    KAFKA_DATA_DIR: kafkaDir,
    PORT: '0',
    ADMIN_TOKEN,
    LOG_LEVEL: 'silent',
    // The purchase-path tests hammer on purpose; the limiter has its own test.
    RATE_LIMIT_USER_PER_SEC: '0',
    ...options.env,
  });
  // The service's log is kept (not printed) and shown under a test that fails.
  const log = pino({ name: `service (Redis db ${redisIndex})`, level: 'info' }, tailDestination('service'));
  const service = buildService(config, { log, ...options.service });
  const { url } = await service.start(options.roles ?? ['api']);
  if (!url) throw new Error('the api role did not start');

  const api = apiAt(url);

  return {
    service,
    config,
    url,
    databaseUrl: database.url,
    ...api,
    async stop() {
      await service.stop();
      await database.drop();
      rmSync(kafkaDir, { recursive: true, force: true });
    },
  };
}

/**
 * The environment of a `serve` child that joins this stack: the same database, Redis, broker and admin token, no
 * per-user rate limit (tests hammer on purpose); `extra` on top.
 */
export function joiningEnv(stack: TestStack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: stack.config.databaseUrl,
    REDIS_URL: stack.config.redis.url!,
    KAFKA_BROKERS: stack.service.running.brokers!.join(','),
    ADMIN_TOKEN,
    RATE_LIMIT_USER_PER_SEC: '0',
    ...extra,
  };
}

/** The HTTP routes of the service at `url` (one process, or a load balancer in front of several). */
export function apiAt(url: string): Pick<TestStack, 'createSale' | 'get' | 'post'> {
  const request = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(url + path, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  return {
    async createSale(body) {
      const res = await request('POST', '/admin/sales', body, { authorization: `Bearer ${ADMIN_TOKEN}` });
      if (res.status !== 201) throw new Error(`createSale: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body;
    },
    post: (path, body, headers) => request('POST', path, body, headers),
    get: (path) => request('GET', path),
  };
}

/** Polls until `check` returns a truthy value; fails with the last value seen after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined | null | false;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

/** Fast group timeouts so rebalances in tests take a second, not thirty. */
export const FAST_CONSUMER = { sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 };

export type ItemStatsBody = Record<string, number | string>;

/** What the crowd helpers need: one API address, in process or in front of several processes (HAProxy). */
export type Api = Pick<TestStack, 'get' | 'post'>;

export async function itemStats(stack: Api, itemId: string): Promise<ItemStatsBody> {
  const res = await stack.get('/stats');
  return res.body.items.find((item: { itemId: string }) => item.itemId === itemId);
}

/** Waits until the outbox and the consumer have drained for this item (docs/contract.md's quiescence). */
export function drained(stack: Api, itemId: string, timeoutMs = 60_000): Promise<ItemStatsBody> {
  return waitFor(
    `item ${itemId} to drain`,
    async () => {
      const stats = await itemStats(stack, itemId);
      return stats.outboxPending === 0 && stats.consumerLag === 0 && stats.dbDrift === 0 ? stats : undefined;
    },
    timeoutMs,
  );
}

/** Every buyer asks until the answer is final (ordered, sold out, duplicate), retrying "busy" and 5xx answers. */
export async function buyUntilDecided(
  stack: Api,
  itemId: string,
  userIds: string[],
  options: { concurrency?: number; deadlineMs?: number; onAnswer?: (status: string) => void } = {},
): Promise<Map<string, string>> {
  const decided = new Map<string, string>();
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  const queue = [...userIds];
  const buyer = async () => {
    for (let userId = queue.shift(); userId !== undefined; userId = queue.shift()) {
      for (;;) {
        const res = await stack.post('/seckill', { userId, itemId }).catch(() => ({ status: 599, body: {} }));
        const status: string = res.body?.status ?? `http_${res.status}`;
        options.onAnswer?.(status);
        if (['ordered', 'sold_out', 'duplicate'].includes(status) || Date.now() > deadline) {
          decided.set(userId, status);
          break;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 32 }, buyer));
  return decided;
}

/**
 * Buyers who arrive after the crowd, one every `gapMs`, until the item's active orders reach `stock`. A unit whose
 * buyer's process was killed between take and commit waits in its reservation for the sweeper's grace period
 * before it goes back on sale; by then the crowd may have heard `sold_out` and left, as real buyers keep arriving.
 */
export async function latecomersUntilSold(
  stack: Api,
  itemId: string,
  stock: number,
  options: { prefix: string; gapMs?: number; deadlineMs?: number },
): Promise<void> {
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  let arrived = 0;
  while ((await itemStats(stack, itemId)).activeOrders !== stock && Date.now() < deadline) {
    await stack
      .post('/seckill', { userId: `${options.prefix}-late-${arrived++}`, itemId })
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, options.gapMs ?? 250));
  }
}

/** The end state every safe sale must reach: every unit sold once, nothing leaked, the pipeline drained. */
export async function exactEnd(stack: Api, itemId: string, stock: number, timeoutMs = 60_000) {
  let last: ItemStatsBody | undefined;
  return waitFor(
    `item ${itemId} to end exact (orders = ${stock}, oversell, undersell, dbDrift 0, drained)`,
    async () => {
      const stats = (last = await itemStats(stack, itemId));
      const exact =
        stats.activeOrders === stock &&
        stats.oversell === 0 &&
        stats.undersell === 0 &&
        stats.dbDrift === 0 &&
        stats.outboxPending === 0 &&
        stats.consumerLag === 0;
      return exact ? stats : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message.split(';')[0]}; last stats: ${JSON.stringify(last)}`);
  });
}

/** Runs `fault` once the crowd has placed `after` orders (wire `onAnswer` into buyUntilDecided). */
export function faultAfter(after: number, fault: () => Promise<void>) {
  let ordered = 0;
  let fired: Promise<void> | undefined;
  return {
    onAnswer(status: string) {
      if (status === 'ordered' && ++ordered === after) fired = fault();
    },
    fired: () => fired,
  };
}
