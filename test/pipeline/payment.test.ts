// Payment and expiry: unpaid orders are cancelled, their units sold again; pay and expiry racing never both win.
import { drained, FAST_CONSUMER, startStack, waitFor, type TestStack } from '../support/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack(6, {
    roles: ['api', 'relay', 'consumer', 'worker'],
    service: { consumer: FAST_CONSUMER },
  });
});
afterAll(async () => {
  await stack.stop();
});

const buy = (userId: string, itemId: string) => stack.post('/seckill', { userId, itemId });
const pay = (orderId: string, userId: string) => stack.post(`/orders/${orderId}/pay`, { userId });

test('pay: owner only, idempotent, and a cancelled order cannot be paid', async () => {
  const { itemId } = await stack.createSale({ name: 'pay', stock: 5, paymentTimeoutMs: 60_000 });
  const { orderId } = (await buy('payer', itemId)).body;
  expect((await pay(orderId, 'thief')).status).toBe(403);
  expect((await pay(orderId, 'thief')).body.error.code).toBe('forbidden');
  const first = await pay(orderId, 'payer');
  const again = await pay(orderId, 'payer');
  expect([first.status, first.body.status]).toEqual([200, 'PAID']);
  expect([again.status, again.body.status]).toEqual([200, 'PAID']);
  expect((await pay('424242', 'payer')).status).toBe(404);
  expect((await pay(orderId, 'bad user!')).status).toBe(400);

  const unpaid = (await buy('late-payer', itemId)).body.orderId;
  expect(await stack.service.payments.expire(unpaid)).toBe('cancelled');
  const late = await pay(unpaid, 'late-payer');
  expect([late.status, late.body.error.code]).toEqual([409, 'order_cancelled']);
});

test('unpaid orders expire, their units are sold again, and at the end A + R = S with dbDrift 0', async () => {
  const { itemId } = await stack.createSale({
    name: 'expiry',
    stock: 20,
    segments: 4,
    paymentTimeoutMs: 1000,
  });
  const first = await Promise.all(Array.from({ length: 20 }, (_, i) => buy(`first${i}`, itemId)));
  expect(first.every((r) => r.status === 201)).toBe(true);
  await Promise.all(first.slice(0, 10).map((r, i) => pay(r.body.orderId, `first${i}`)));

  await waitFor('10 orders to expire', async () => {
    const cancelled = await stack.service.db.order.count({
      where: { itemId: BigInt(itemId), status: 'CANCELLED' },
    });
    return cancelled === 10;
  });
  // The freed units are for sale again (after the sold-out flag's TTL at most).
  const resold = await waitFor('the freed units to sell', async () => {
    const buyers = Array.from({ length: 10 }, (_, i) => `second${i}-${Date.now()}`);
    const again = await Promise.all(buyers.map((userId) => buy(userId, itemId)));
    const ordered = again.flatMap((r, i) =>
      r.status === 201 ? [{ orderId: r.body.orderId, userId: buyers[i] }] : [],
    );
    return ordered.length > 0 ? ordered : undefined;
  });
  const orderedAgain = resold.length;
  await Promise.all(resold.map(({ orderId, userId }) => pay(orderId, userId))); // so they do not expire too
  const stats = await drained(stack, itemId);
  expect(stats.cancelledOrders).toBe(10);
  expect(Number(stats.activeOrders) + Number(stats.redisRemaining)).toBe(20);
  expect(stats.activeOrders).toBe(10 + orderedAgain);
  expect(stats).toMatchObject({ oversell: 0, undersell: 0, dbDrift: 0 });
});

test('pay and expiry racing on the same orders: each ends PAID or CANCELLED, and stock agrees', async () => {
  const { itemId } = await stack.createSale({
    name: 'race',
    stock: 30,
    segments: 4,
    paymentTimeoutMs: 60_000,
  });
  const orders = await Promise.all(Array.from({ length: 30 }, (_, i) => buy(`race${i}`, itemId)));
  const outcomes = await Promise.all(
    orders.map((r, i) =>
      Promise.all([pay(r.body.orderId, `race${i}`), stack.service.payments.expire(r.body.orderId)]),
    ),
  );
  const rows = await stack.service.db.order.findMany({ where: { itemId: BigInt(itemId) } });
  expect(rows).toHaveLength(30);
  for (const [i, [paid, expired]] of outcomes.entries()) {
    const row = rows.find((o) => o.id.toString() === orders[i].body.orderId)!;
    // Exactly one side won, and the loser saw it.
    if (row.status === 'PAID') expect([paid.status, expired]).toEqual([200, 'not_pending']);
    else expect([row.status, paid.status, expired]).toEqual(['CANCELLED', 409, 'cancelled']);
  }
  const paidCount = rows.filter((o) => o.status === 'PAID').length;
  const stats = await drained(stack, itemId);
  expect(stats).toMatchObject({
    activeOrders: paidCount,
    cancelledOrders: 30 - paidCount,
    oversell: 0,
    undersell: 0,
  });
  expect(stats.redisRemaining).toBe(30 - paidCount);
  expect(stats.dbStock).toBe(30 - paidCount);
});
