// Everything a request could have changed: every sk:* key of Redis with its value, and every row of the tables a
// request can write (ids and statuses, so an update shows too). The item cache is left out: it is a read-through
// copy of the database that any GET /items may fill, not state a request changes.
import type { Service } from '../../src/service';

const ITEM_CACHE_KEY = /^sk:\{i[^}]*\}:item(:rebuild)?$/;

export async function stateSnapshot(service: Service) {
  const { db, redis } = service;
  const keys = (await redis.keys('sk:*')).filter((key) => !ITEM_CACHE_KEY.test(key)).sort();
  const values = await Promise.all(
    keys.map(async (key) => {
      const type = await redis.type(key);
      if (type === 'string') return redis.get(key);
      if (type === 'set') return (await redis.smembers(key)).sort();
      if (type === 'hash') return redis.hgetall(key);
      return redis.zrange(key, '0', '-1', 'WITHSCORES');
    }),
  );
  const [items, ledger, orders, outbox] = await Promise.all([
    db.item.findMany({ orderBy: { id: 'asc' } }),
    db.stockSegment.findMany({ orderBy: [{ itemId: 'asc' }, { segment: 'asc' }] }),
    db.order.findMany({ orderBy: { id: 'asc' } }),
    db.outboxMessage.findMany({ orderBy: { id: 'asc' }, select: { id: true, status: true } }),
  ]);
  return { redis: Object.fromEntries(keys.map((key, i) => [key, values[i]])), items, ledger, orders, outbox };
}
