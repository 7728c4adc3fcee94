// Payment timeouts and second cache deletes as delayed BullMQ jobs coalesced by due time, on a real Redis: one job
// per key and bucket, never due before what it stands for, and an order still expires on time through it.
import type { Queue } from 'bullmq';
import { CoalescedDelayedJobs, createQueue } from '../../src/infra/queues';
import { freshRedisUrl, startStack, waitFor, type TestStack } from '../support/stack';

describe('CoalescedDelayedJobs', () => {
  let queue: Queue;
  const now = Date.UTC(2026, 11, 5, 12, 0, 0, 250);

  beforeAll(async () => {
    queue = createQueue({ url: await freshRedisUrl(14) }, 'coalesce-test');
  });
  afterAll(async () => {
    await queue.close();
  });
  // Only Date is frozen (the buckets depend on it); the Redis client's timers run for real.
  beforeEach(() => {
    jest.useFakeTimers({
      now,
      doNotFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'nextTick'],
    });
  });
  afterEach(() => jest.useRealTimers());

  test('one job per key and bucket, due at the end of its bucket; a second process adds nothing', async () => {
    const thisProcess = new CoalescedDelayedJobs<{ itemId: string }>(queue, 'second-delete', 1000);
    const due = (delayMs: number) => Math.ceil((now + delayMs) / 1000) * 1000;
    await thisProcess.add(
      Array.from({ length: 200 }, () => ({ key: 'item-1', delayMs: 60_000, data: { itemId: '1' } })),
    );
    await thisProcess.add([
      { key: 'item-2', delayMs: 60_000, data: { itemId: '2' } },
      { key: 'item-1', delayMs: 61_500, data: { itemId: '1' } }, // a later bucket: a job of its own
    ]);
    const otherProcess = new CoalescedDelayedJobs<{ itemId: string }>(queue, 'second-delete', 1000);
    await otherProcess.add([{ key: 'item-1', delayMs: 60_000, data: { itemId: '1' } }]);

    const jobs = await queue.getDelayed();
    expect(jobs.map((job) => [job.id, job.opts.delay, job.data]).sort()).toEqual(
      [
        [`second-delete-item-1-${due(60_000)}`, due(60_000) - now, { itemId: '1' }],
        [`second-delete-item-1-${due(61_500)}`, due(61_500) - now, { itemId: '1' }],
        [`second-delete-item-2-${due(60_000)}`, due(60_000) - now, { itemId: '2' }],
      ].sort(),
    );
    // Never earlier than asked: the end of the bucket is at or after every delay it stands for.
    for (const job of jobs) expect(job.opts.delay).toBeGreaterThanOrEqual(60_000);
  });
});

describe('payment timeouts through the coalesced job', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // A sweep that never runs in this test: whatever expires, the timeout job expired.
    stack = await startStack(11, { roles: ['api', 'worker'], env: { SWEEP_INTERVAL_MS: '600000' } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('unpaid orders of one second expire together when their window closes, paid ones stay', async () => {
    const { itemId } = await stack.createSale({ name: 'timeouts', stock: 10, paymentTimeoutMs: 1000 });
    const bought = await Promise.all(
      Array.from({ length: 10 }, (_, i) => stack.post('/seckill', { userId: `t${i}`, itemId })),
    );
    expect(bought.map((r) => r.status)).toEqual(Array(10).fill(201));
    await stack.post(`/orders/${bought[0].body.orderId}/pay`, { userId: 't0' });

    const statuses = () =>
      stack.service.db.order.groupBy({ by: ['status'], where: { itemId: BigInt(itemId) }, _count: true });
    const ended = await waitFor(
      'the unpaid orders to expire',
      async () => {
        const counts = Object.fromEntries((await statuses()).map((row) => [row.status, row._count]));
        return counts.CANCELLED === 9 ? counts : undefined;
      },
      15_000,
    );
    expect(ended).toEqual({ PAID: 1, CANCELLED: 9 });
  });
});
