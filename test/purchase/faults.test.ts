// Faults injected into the real services: the database refuses writes mid-sale, a buyer's process dies after taking a
// unit, a lock expires under its holder. Nothing may be lost or sold twice.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { segmentKeys } from '../../src/stock/keys';
import { StockScripts } from '../../src/stock/scripts';
import { reservationOf } from '../../src/orders/reservation';
import { sweepStaleReservations } from '../../src/orders/reservation-sweeper';
import { startStack, type TestStack } from '../support/stack';

let stack: TestStack;
let sql: Client;
beforeAll(async () => {
  stack = await startStack(2);
  sql = new Client({ connectionString: stack.databaseUrl });
  await sql.connect();
});
afterAll(async () => {
  await sql.end();
  await stack.stop();
});

async function remaining(itemId: string): Promise<number> {
  return stack.service.stock.get('segmented-lock').remaining({ itemId, stock: 0, segments: 8 });
}

async function itemStats(itemId: string) {
  return (await stack.get('/stats')).body.items.find((i: { itemId: string }) => i.itemId === itemId);
}

/** A real database fault: a trigger that makes PostgreSQL reject the INSERT for the chosen table and users. */
async function failInsertsInto(
  table: 'orders' | 'outbox_messages',
  userPattern: string,
): Promise<() => Promise<void>> {
  const column = table === 'orders' ? 'NEW.user_id' : `NEW.payload->>'userId'`;
  await sql.query(`
    CREATE OR REPLACE FUNCTION inject_fault() RETURNS trigger AS $$
    BEGIN
      IF ${column} LIKE '${userPattern}' THEN RAISE EXCEPTION 'injected fault'; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER inject_fault BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION inject_fault();`);
  return async () => {
    await sql.query(`DROP TRIGGER inject_fault ON ${table}; DROP FUNCTION inject_fault();`);
  };
}

test.each(['orders', 'outbox_messages'] as const)(
  'the %s insert fails mid-sale: units go back, undersell stays 0, and the buyers can buy afterwards',
  async (table) => {
    const { itemId } = await stack.createSale({ name: `fault-${table}`, stock: 40, segments: 8 });
    const heal = await failInsertsInto(table, 'unlucky%');
    const buyers = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `unlucky${i}` : `lucky${i}`));
    const results = await Promise.all(buyers.map((userId) => stack.post('/seckill', { userId, itemId })));
    await heal();

    const unlucky = results.filter((_, i) => buyers[i].startsWith('unlucky'));
    expect(unlucky.some((r) => r.body.status === 'busy')).toBe(true); // the fault did hit
    expect(unlucky.every((r) => r.body.status === 'busy' || r.body.status === 'sold_out')).toBe(true);
    const ordered = results.filter((r) => r.status === 201).length;
    expect(await stack.service.db.order.count({ where: { itemId: BigInt(itemId) } })).toBe(ordered);
    expect(await stack.service.db.outboxMessage.count({ where: { itemId: BigInt(itemId) } })).toBe(ordered);
    expect(ordered + (await remaining(itemId))).toBe(40); // every failed purchase's unit is back
    expect(await itemStats(itemId)).toMatchObject({ oversell: 0, undersell: 0, activeOrders: ordered });

    // Database healed: everyone turned away tries again (after the sold-out flag's TTL) and the stock sells out.
    await new Promise((r) => setTimeout(r, 1100));
    const retry = buyers.filter((_, i) => results[i].status !== 201);
    const retried = await Promise.all(retry.map((userId) => stack.post('/seckill', { userId, itemId })));
    expect(ordered + retried.filter((r) => r.status === 201).length).toBe(40);
    expect(await itemStats(itemId)).toMatchObject({
      oversell: 0,
      undersell: 0,
      activeOrders: 40,
      redisRemaining: 0,
    });
  },
);

test('a buyer whose purchase failed may buy once the database is back', async () => {
  const { itemId } = await stack.createSale({ name: 'retry', stock: 5, segments: 2 });
  const heal = await failInsertsInto('orders', 'retrier');
  const failed = await stack.post('/seckill', { userId: 'retrier', itemId });
  expect(failed).toEqual({ status: 503, body: { status: 'busy' } });
  expect(await remaining(itemId)).toBe(5);
  await heal();
  const retried = await stack.post('/seckill', { userId: 'retrier', itemId });
  expect(retried.status).toBe(201);
  expect(await remaining(itemId)).toBe(4);
});

test('a process killed between taking a unit and committing: the sweeper gives the unit back once', async () => {
  const { itemId } = await stack.createSale({ name: 'killed', stock: 3, segments: 1 });
  const sale = { itemId, stock: 3, segments: 1 };
  const stock = stack.service.stock.get('segmented-lock');
  // What a dying process leaves behind: the buyer claimed, the unit taken and reserved, no order.
  const ghost = { userId: 'ghost', reservation: reservationOf('123456789', 'ghost') };
  expect(await stock.take(sale, ghost)).toEqual({ kind: 'taken', segment: 0 });
  // And a committed order whose reservation was never cleared.
  const committed = await stack.post('/seckill', { userId: 'alive', itemId });
  await stack.service.redis.zadd(
    segmentKeys(itemId, 0).held,
    0,
    reservationOf(committed.body.orderId, 'alive'),
  );
  expect(await remaining(itemId)).toBe(1);
  expect((await stack.post('/seckill', { userId: 'ghost', itemId })).body).toEqual({ status: 'duplicate' });

  await new Promise((r) => setTimeout(r, 5));
  const deps = { db: stack.service.db, sales: stack.service.sales, stock: stack.service.stock, graceMs: 0 };
  expect(await sweepStaleReservations(deps)).toEqual({ returned: 1, cleared: 1 });
  expect(await sweepStaleReservations(deps)).toEqual({ returned: 0, cleared: 0 });
  expect(await remaining(itemId)).toBe(2);
  expect(await stack.service.redis.zcard(segmentKeys(itemId, 0).held)).toBe(0);
  expect((await stack.post('/seckill', { userId: 'ghost', itemId })).status).toBe(201);
});

describe('segment lock', () => {
  const token = () => randomBytes(8).toString('hex');
  const scripts = () => new StockScripts(stack.service.redis);

  test('only its holder can release it', async () => {
    const redis = scripts();
    const keys = segmentKeys('lock-test', 0);
    await stack.service.redis.set(keys.stock, 5);
    const holder = token();
    expect(await redis.acquireLock(keys, holder, 5000)).toBe('acquired');
    expect(await redis.acquireLock(keys, token(), 5000)).toBe('contended');
    expect(await redis.releaseLock(keys.lock, token())).toBe(false);
    expect(await stack.service.redis.get(keys.lock)).toBe(holder);
    expect(await redis.releaseLock(keys.lock, holder)).toBe(true);
    expect(await stack.service.redis.get(keys.lock)).toBeNull();
  });

  test('an expired lock cannot sell a unit: the late holder is fenced off, the new holder sells it once', async () => {
    const redis = scripts();
    const keys = segmentKeys('fence-test', 0);
    await stack.service.redis.del(keys.held);
    await stack.service.redis.set(keys.stock, 1);
    const late = token();
    expect(await redis.acquireLock(keys, late, 30)).toBe('acquired');
    await new Promise((r) => setTimeout(r, 60)); // the late holder "pauses" past its TTL
    const next = token();
    expect(await redis.acquireLock(keys, next, 5000)).toBe('acquired');
    expect(await redis.fencedTakeAndUnlock(keys, late, ['late-order'])).toEqual(['contended']);
    expect(await stack.service.redis.get(keys.lock)).toBe(next); // the late holder cannot unlock the new one
    expect(await redis.fencedTakeAndUnlock(keys, next, ['next-order'])).toEqual(['taken']);
    expect(await stack.service.redis.get(keys.lock)).toBeNull();
    expect(await stack.service.redis.get(keys.stock)).toBe('0');
    expect(await stack.service.redis.zrange(keys.held, '0', '-1')).toEqual(['next-order']);
    expect(await redis.releaseLock(keys.lock, late)).toBe(false);
  });
});
