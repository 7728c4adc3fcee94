// The purchase path under a crowd, against real Redis and PostgreSQL.
import { startStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack(1);
});
afterAll(async () => {
  await stack.stop();
});

async function remainingInRedis(itemId: string, segments: number): Promise<number> {
  const counters = await Promise.all(
    Array.from({ length: segments }, (_, s) => stack.service.redis.get(`sk:{i${itemId}:s${s}}:stock`)),
  );
  return counters.reduce((sum, value) => sum + Number(value), 0);
}

function countStatuses(results: { status: number; body: { status?: string } }[]) {
  const counts: Record<string, number> = {};
  for (const r of results) {
    const key = r.body?.status ?? `http_${r.status}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

test('500 concurrent distinct buyers for 50 units in 8 segments: exactly 50 orders, the rest sold out', async () => {
  const { itemId } = await stack.createSale({ name: 'crowd', stock: 50, segments: 8 });
  const results = await Promise.all(
    Array.from({ length: 500 }, (_, i) => stack.post('/seckill', { userId: `u${i}`, itemId })),
  );

  expect(countStatuses(results)).toEqual({ ordered: 50, sold_out: 450 });
  expect(results.filter((r) => r.status === 201)).toHaveLength(50);
  expect(results.filter((r) => r.status === 410)).toHaveLength(450);
  const db = stack.service.db;
  expect(await db.order.count({ where: { itemId: BigInt(itemId) } })).toBe(50);
  expect(await db.outboxMessage.count({ where: { itemId: BigInt(itemId), type: 'order.created' } })).toBe(50);
  expect(await remainingInRedis(itemId, 8)).toBe(0);

  const stats = await stack.get('/stats');
  const item = stats.body.items.find((i: { itemId: string }) => i.itemId === itemId);
  expect(item).toMatchObject({
    initialStock: 50,
    redisRemaining: 0,
    activeOrders: 50,
    oversell: 0,
    undersell: 0,
  });
});

test('200 concurrent requests from one user for one item: exactly one order', async () => {
  const { itemId } = await stack.createSale({ name: 'one-user', stock: 10, segments: 4 });
  const results = await Promise.all(
    Array.from({ length: 200 }, () => stack.post('/seckill', { userId: 'hammer', itemId })),
  );
  expect(countStatuses(results)).toEqual({ ordered: 1, duplicate: 199 });
  expect(await stack.service.db.order.count({ where: { itemId: BigInt(itemId) } })).toBe(1);
  expect(await remainingInRedis(itemId, 4)).toBe(9);
});

test('Redis forgetting a buyer: the unique constraint still answers duplicate and the unit goes back', async () => {
  const { itemId } = await stack.createSale({ name: 'forgetful', stock: 5, segments: 2 });
  expect((await stack.post('/seckill', { userId: 'twice', itemId })).status).toBe(201);
  await stack.service.redis.del(`sk:{i${itemId}}:buyers`);
  const again = await stack.post('/seckill', { userId: 'twice', itemId });
  expect([again.status, again.body]).toEqual([409, { status: 'duplicate' }]);
  expect(await stack.service.db.order.count({ where: { itemId: BigInt(itemId) } })).toBe(1);
  expect(await remainingInRedis(itemId, 2)).toBe(4);
});

test('every order carries its outbox message with the order, item, user and segment', async () => {
  const { itemId } = await stack.createSale({ name: 'outbox', stock: 3, segments: 2 });
  const res = await stack.post('/seckill', { userId: 'reader', itemId });
  expect(res.status).toBe(201);
  const message = await stack.service.db.outboxMessage.findFirstOrThrow({ where: { key: res.body.orderId } });
  expect(message).toMatchObject({ topic: 'seckill.orders', type: 'order.created', status: 'PENDING' });
  expect(message.payload).toMatchObject({ orderId: res.body.orderId, itemId, userId: 'reader' });
  const order = await stack.get(`/orders/${res.body.orderId}`);
  expect(order.body).toMatchObject({
    orderId: res.body.orderId,
    status: 'PENDING_PAYMENT',
    userId: 'reader',
  });
  expect((message.payload as { segment: number }).segment).toBe(order.body.segment);
});

test('sale window: before start answers not_started, after end answers ended, and nothing is taken', async () => {
  const future = await stack.createSale({
    name: 'later',
    stock: 5,
    startsAt: new Date(Date.now() + 3600_000).toISOString(),
  });
  const past = await stack.createSale({
    name: 'over',
    stock: 5,
    startsAt: new Date(Date.now() - 7200_000).toISOString(),
    endsAt: new Date(Date.now() - 3600_000).toISOString(),
  });
  const early = await stack.post('/seckill', { userId: 'early', itemId: future.itemId });
  const late = await stack.post('/seckill', { userId: 'late', itemId: past.itemId });
  expect([early.status, early.body]).toEqual([409, { status: 'not_started' }]);
  expect([late.status, late.body]).toEqual([409, { status: 'ended' }]);
  expect(await remainingInRedis(future.itemId, 8)).toBe(5);
  expect(await remainingInRedis(past.itemId, 8)).toBe(5);
});
