// Everything a request could have changed: every sk:* (stock) and wr:* (waiting room) key of Redis with its value,
// and every row of the tables a request can write (ids and statuses, so an update shows too). Left out: the item
// cache, a read-through copy of the database that any GET /items may fill, a room's token bucket, which its inlet
// moves on every refresh whoever asks, and its presence record (when each ticket last polled: any poll moves it).
import type { Service } from '../../src/service';

const NOT_REQUEST_STATE = /^sk:\{i[^}]*\}:item(:rebuild)?$|^wr:\{r[^}]*\}:(bucket|seen)$/;

export async function stateSnapshot(service: Service) {
  const { db, redis } = service;
  const keys = [...(await redis.keys('sk:*')), ...(await redis.keys('wr:*'))]
    .filter((key) => !NOT_REQUEST_STATE.test(key))
    .sort();
  const values = await Promise.all(
    keys.map(async (key) => {
      const type = await redis.type(key);
      if (type === 'string') return redis.get(key);
      if (type === 'set') return (await redis.smembers(key)).sort();
      if (type === 'hash') return redis.hgetall(key);
      if (type === 'list') return redis.lrange(key, 0, -1);
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
