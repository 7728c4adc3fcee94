// GET /items/:itemId through the Redis cache: delayed double delete after deductions, negative caching of unknown ids.
import { cacheKey } from '../../src/inventory/item-cache';
import { drained, FAST_CONSUMER, startStack, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack(7, {
    roles: ['api', 'relay', 'consumer', 'worker'],
    service: { consumer: FAST_CONSUMER },
    env: { CACHE_DOUBLE_DELETE_DELAY_MS: '300', CACHE_MISSING_TTL_MS: '1500' },
  });
});
afterAll(async () => {
  await stack.stop();
});

const dbReads = async () => (await stack.service.metrics.cacheDbReads.get()).values[0]?.value ?? 0;

test('after a deduction and the second delete, the pre-deduction stock is never served again', async () => {
  const { itemId } = await stack.createSale({ name: 'cached', stock: 5, segments: 1 });
  expect((await stack.get(`/items/${itemId}`)).body.stock).toBe(5);
  expect(await stack.service.redis.get(cacheKey(itemId))).toContain('"stock":5');

  const secondDeletes = async () =>
    (await stack.service.metrics.cacheDeletes.get()).values.find((v) => v.labels.phase === 'second')?.value ??
    0;
  const before = await secondDeletes();
  expect((await stack.post('/seckill', { userId: 'c1', itemId })).status).toBe(201);
  await drained(stack, itemId);
  // A slow reader that read the database before the write puts the old value back after the first delete...
  await stack.service.redis.set(
    cacheKey(itemId),
    JSON.stringify({ itemId, stock: 5, stale: true }),
    'PX',
    60_000,
  );
  // ...and the delayed second delete evicts it.
  const deadline = Date.now() + 10_000;
  while ((await secondDeletes()) === before && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  expect(await secondDeletes()).toBeGreaterThan(before);
  for (let i = 0; i < 10; i++) {
    const item = (await stack.get(`/items/${itemId}`)).body;
    expect(item.stock).toBe(4);
  }
});

test('unknown ids reach the database once per negative-cache TTL, however many ask', async () => {
  const readsBefore = await dbReads();
  const answers = await Promise.all(Array.from({ length: 50 }, () => stack.get('/items/987654321')));
  expect(answers.every((a) => a.status === 404 && a.body.error.code === 'item_not_found')).toBe(true);
  for (let i = 0; i < 20; i++) expect((await stack.get('/items/987654321')).status).toBe(404);
  expect((await dbReads()) - readsBefore).toBe(1);

  await new Promise((resolve) => setTimeout(resolve, 1600)); // the negative entry expires
  expect((await stack.get('/items/987654321')).status).toBe(404);
  expect((await dbReads()) - readsBefore).toBe(2);
});

test('a hot key rebuilt by one reader: 100 concurrent misses cost one database read', async () => {
  const { itemId } = await stack.createSale({ name: 'hot', stock: 3 });
  await stack.service.redis.del(cacheKey(itemId));
  const readsBefore = await dbReads();
  const answers = await Promise.all(Array.from({ length: 100 }, () => stack.get(`/items/${itemId}`)));
  expect(answers.every((a) => a.status === 200 && a.body.stock === 3)).toBe(true);
  expect((await dbReads()) - readsBefore).toBe(1);
});
