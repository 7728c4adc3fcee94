// Protection from the crowd: per-user and per-IP rate limits (429 rate_limited) and load shedding (503 busy).
import { startStack, type TestStack } from '../support/stack';

describe('rate limits', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack(8, { env: { RATE_LIMIT_USER_PER_SEC: '3', RATE_LIMIT_IP_PER_SEC: '40' } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('a user hammering gets 429 rate_limited past its rate, and still exactly one order', async () => {
    const { itemId } = await stack.createSale({ name: 'limited', stock: 10 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => stack.post('/seckill', { userId: 'hammer', itemId })),
    );
    const byStatus = answers.reduce<Record<string, number>>(
      (acc, a) => ({ ...acc, [a.body.status]: (acc[a.body.status] ?? 0) + 1 }),
      {},
    );
    expect(byStatus).toEqual({ ordered: 1, duplicate: 2, rate_limited: 17 });
    expect(answers.filter((a) => a.status === 429)).toHaveLength(17);
    expect(await stack.service.db.order.count({ where: { itemId: BigInt(itemId) } })).toBe(1);
  });

  test('one IP over its rate is limited whatever user ids it sends', async () => {
    const { itemId } = await stack.createSale({ name: 'ip-limited', stock: 100 });
    await new Promise((resolve) => setTimeout(resolve, 1000)); // a fresh rate window
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => stack.post('/seckill', { userId: `ip${i}`, itemId })),
    );
    const limited = answers.filter((a) => a.status === 429 && a.body.status === 'rate_limited').length;
    const ordered = answers.filter((a) => a.status === 201).length;
    expect(limited).toBeGreaterThanOrEqual(20);
    expect(ordered + limited).toBe(60);
    expect(await stack.service.db.order.count({ where: { itemId: BigInt(itemId) } })).toBe(ordered);
  });
});

describe('load shedding', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startStack(9, { env: { MAX_IN_FLIGHT: '4' } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('past MAX_IN_FLIGHT requests in flight, new ones get 503 busy at once, and no unit is lost', async () => {
    const { itemId } = await stack.createSale({ name: 'shed', stock: 500, segments: 8 });
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => stack.post('/seckill', { userId: `s${i}`, itemId })),
    );
    const busy = answers.filter((a) => a.status === 503 && a.body.status === 'busy').length;
    const ordered = answers.filter((a) => a.status === 201).length;
    expect(busy).toBeGreaterThan(0);
    expect(ordered + busy).toBe(200);
    const stats = (await stack.get('/stats')).body.items.find((i: { itemId: string }) => i.itemId === itemId);
    expect(stats).toMatchObject({
      activeOrders: ordered,
      redisRemaining: 500 - ordered,
      undersell: 0,
      oversell: 0,
    });
  });
});
