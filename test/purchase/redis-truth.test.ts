// PostgreSQL is the record of truth and Redis only the gate: Redis loses everything mid-crowd (FLUSHALL; the server
// killed and restarted empty), or its counters are raised behind the service's back. Each sale still ends exact.
import { createRedis } from '../../src/infra/redis';
import { segmentKeys } from '../../src/stock/keys';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server';
import {
  buyUntilDecided,
  exactEnd,
  FAST_CONSUMER,
  faultAfter,
  startStack,
  type TestStack,
} from '../support/stack';

let redis: PrivateRedis;
let stack: TestStack;
beforeAll(async () => {
  redis = await startPrivateRedis();
  stack = await startStack(0, {
    env: {
      REDIS_URL: redis.url,
      SWEEP_INTERVAL_MS: '200',
      RESERVATION_GRACE_MS: '2000',
      LOCK_WAIT_MS: '500',
    },
    roles: ['api', 'relay', 'consumer', 'worker'],
    service: { consumer: FAST_CONSUMER },
  });
});
afterAll(async () => {
  await stack.stop();
  await redis.stop();
});

const STOCK = 300;
const users = (prefix: string) => Array.from({ length: 1000 }, (_, i) => `${prefix}${i}`);

/** No user holds two orders and no order id appears twice, read straight from the database. */
async function expectOneOrderPerUser(itemId: string) {
  const orders = await stack.service.db.order.findMany({ where: { itemId: BigInt(itemId) } });
  expect(new Set(orders.map((o) => o.userId)).size).toBe(orders.length);
  expect(new Set(orders.map((o) => o.id)).size).toBe(orders.length);
  return orders.length;
}

async function repairs(kind: 'rebuilt' | 'corrected' | 'clamped'): Promise<number> {
  const metric = await stack.service.metrics.stockRepairs.get();
  return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
}

test.each(['segmented-lock', 'lua'])(
  '%s: Redis FLUSHALL mid-crowd: the sale resumes from the database and ends exact',
  async (strategy) => {
    const { itemId } = await stack.createSale({
      name: `flush-${strategy}`,
      stock: STOCK,
      segments: 8,
      strategy,
    });
    const rebuiltBefore = await repairs('rebuilt');
    const admin = createRedis(stack.config.redis);
    const fault = faultAfter(STOCK / 3, async () => {
      await admin.flushall();
    });
    const answers = await buyUntilDecided(stack, itemId, users(`f${strategy}`), { onAnswer: fault.onAnswer });
    expect(fault.fired()).toBeDefined();
    await fault.fired();
    await admin.quit();

    expect([...answers.values()].filter((s) => s === 'ordered')).toHaveLength(STOCK);
    expect(await exactEnd(stack, itemId, STOCK)).toMatchObject({ redisRemaining: 0, oversell: 0 });
    expect(await expectOneOrderPerUser(itemId)).toBe(STOCK);
    expect(await repairs('rebuilt')).toBeGreaterThanOrEqual(rebuiltBefore + 8); // every segment came back from the ledger
  },
);

test('the Redis server killed (-9) mid-crowd and restarted empty: the sale ends exact', async () => {
  const { itemId } = await stack.createSale({ name: 'killed-redis', stock: STOCK, segments: 8 });
  const rebuiltBefore = await repairs('rebuilt');
  const fault = faultAfter(STOCK / 2, async () => {
    await redis.kill();
    await new Promise((r) => setTimeout(r, 300));
    await redis.restart();
  });
  const answers = await buyUntilDecided(stack, itemId, users('k'), { onAnswer: fault.onAnswer });
  await fault.fired();

  expect([...answers.values()].filter((s) => s === 'ordered')).toHaveLength(STOCK);
  expect(await exactEnd(stack, itemId, STOCK)).toMatchObject({ redisRemaining: 0, oversell: 0 });
  expect(await expectOneOrderPerUser(itemId)).toBe(STOCK);
  expect(await repairs('rebuilt')).toBeGreaterThanOrEqual(rebuiltBefore + 8);
});

test('segment counters raised behind the service mid-sale: active orders never exceed stock', async () => {
  const segments = 4;
  const { itemId } = await stack.createSale({ name: 'raised', stock: STOCK, segments, strategy: 'lua' });
  const { db } = stack.service;
  let maxActive = 0;
  const watching = setInterval(() => {
    void db.order.count({ where: { itemId: BigInt(itemId), status: { not: 'CANCELLED' } } }).then((n) => {
      maxActive = Math.max(maxActive, n);
    });
  }, 20);
  const fault = faultAfter(STOCK / 2, async () => {
    for (let s = 0; s < segments; s++) await stack.service.redis.incrby(segmentKeys(itemId, s).stock, 100);
  });
  const answers = await buyUntilDecided(stack, itemId, users('r'), { onAnswer: fault.onAnswer });
  await fault.fired();
  clearInterval(watching);

  expect(maxActive).toBeLessThanOrEqual(STOCK);
  expect([...answers.values()].filter((s) => s === 'ordered')).toHaveLength(STOCK);
  // The raised units were refused by the ledger and the counters brought back to what the database says.
  expect(await exactEnd(stack, itemId, STOCK)).toMatchObject({ redisRemaining: 0, activeOrders: STOCK });
  expect((await repairs('clamped')) + (await repairs('corrected'))).toBeGreaterThan(0);
});
