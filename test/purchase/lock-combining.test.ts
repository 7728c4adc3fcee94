// Combining under segmented-lock's lock, on a real redis-server of the test's own: the buyers of one process who
// want a segment it is locking ride with the holder, one acquire and one fenced take per round. Each rider gets
// exactly one unit or is told the segment is empty, the counter never goes below 0, a lost take answer leaves no lock
// behind, and a re-sent take takes nothing more.
import { Redis } from 'ioredis';
import { homeSegment, segmentKeys, type SegmentKeys } from '../../src/stock/keys';
import { RIDERS_PER_TAKE } from '../../src/stock/lock-combining';
import { RedisSegmentedStock } from '../../src/stock/redis-segments';
import { StockScripts } from '../../src/stock/scripts';
import { lockedTaker, type LockedTakerHooks } from '../../src/stock/segment-takers';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server';

let server: PrivateRedis;
let redis: Redis;
beforeAll(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

let item = 0;
/** A fresh segment holding `units`. */
async function segmentWith(units: number): Promise<SegmentKeys> {
  const keys = segmentKeys(`combine-${++item}`, 0);
  await redis.set(keys.stock, units);
  return keys;
}

/** Counts the takes (one per round) as they are sent. */
class CountingScripts extends StockScripts {
  takes = 0;
  override fencedTakeAndUnlock(keys: SegmentKeys, token: string, reservations: readonly string[]) {
    this.takes++;
    return super.fencedTakeAndUnlock(keys, token, reservations);
  }
}

/** A segmented-lock taker on `client` that counts its rounds (acquire + take pairs). */
function takerCountingRounds(client: Redis = redis, hooks: LockedTakerHooks = {}) {
  const scripts = new CountingScripts(client);
  const taker = lockedTaker(scripts, 5000, hooks);
  return {
    taker,
    counted: {
      get rounds() {
        return scripts.takes;
      },
    },
  };
}

async function segmentState(keys: SegmentKeys) {
  return {
    stock: Number(await redis.get(keys.stock)),
    held: await redis.zrange(keys.held, '0', '-1'),
    ops: Number(await redis.get(keys.ops)),
    lock: await redis.get(keys.lock),
  };
}

const reservations = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('buyers arriving while one is acquiring ride its lock: one round, one unit each', async () => {
  const keys = await segmentWith(100);
  const { taker, counted } = takerCountingRounds();
  const riders = reservations(20);
  const takes = await Promise.all(riders.map((r) => taker.take(keys, r)));

  expect(takes).toEqual(riders.map(() => 'taken'));
  expect(counted.rounds).toBe(1);
  const state = await segmentState(keys);
  expect(state).toMatchObject({ stock: 80, ops: 20, lock: null });
  expect(state.held.sort()).toEqual([...riders].sort());
});

test('buyers on their home segment: their claims ride with the next acquire, each claimed once', async () => {
  const keys = await segmentWith(100);
  const { taker, counted } = takerCountingRounds();
  const users = Array.from({ length: 30 }, (_, i) => `u${i}`);
  const takes = await Promise.all(users.map((u) => taker.claimAndTake(keys, u, `res-${u}`)));
  // The second user of the crowd again, under another reservation, once the crowd is served: a duplicate.
  const again = await taker.claimAndTake(keys, 'u1', 'res-other');

  expect(takes).toEqual(users.map(() => 'taken'));
  expect(again).toBe('duplicate');
  // The first buyer's round, then one round for the 29 who queued while it ran.
  expect(counted.rounds).toBe(2);
  expect(await redis.hgetall(keys.buyers)).toEqual(Object.fromEntries(users.map((u) => [u, `res-${u}`])));
  expect(await segmentState(keys)).toMatchObject({ stock: 70, ops: 30, lock: null });
});

test('a segment that runs empty mid-round: the first riders take its last units, the rest are told empty', async () => {
  const keys = await segmentWith(5);
  const { taker, counted } = takerCountingRounds();
  const riders = reservations(12);
  const takes = await Promise.all(riders.map((r) => taker.take(keys, r)));

  expect(takes).toEqual([...Array(5).fill('taken'), ...Array(7).fill('empty')]);
  expect(counted.rounds).toBe(1);
  const state = await segmentState(keys);
  expect(state).toMatchObject({ stock: 0, ops: 5, lock: null });
  expect(state.held.sort()).toEqual(riders.slice(0, 5).sort());
});

test('buyers told empty walk on to the next segment: every unit sold once, no counter below 0', async () => {
  const itemId = `combine-walk-${++item}`;
  const sale = { itemId, stock: 40, segments: 4 };
  const scripts = new StockScripts(redis);
  const noLedger = { segments: async () => [], buyers: async () => [] };
  const stock = new RedisSegmentedStock(
    'segmented-lock',
    redis,
    scripts,
    lockedTaker(scripts, 5000),
    noLedger,
    {
      lockWaitMs: 300,
      soldOutRecheckMs: 100,
      checkedByDatabase: true,
    },
  );
  await stock.load(sale);
  // 45 buyers whose home is segment 0 (10 units): 10 are sold there, the others are told empty and walk on.
  const users = Array.from({ length: 2000 }, (_, i) => `w${i}`)
    .filter((u) => homeSegment(u, sale.segments) === 0)
    .slice(0, 45);
  const results = await Promise.all(
    users.map((u) => stock.take(sale, { userId: u, reservation: `res-${u}` })),
  );

  const segments = results.map((r) => (r.kind === 'taken' ? r.segment : r.kind));
  expect(segments.filter((s) => s === 0)).toHaveLength(10);
  expect(segments.filter((s) => typeof s === 'number')).toHaveLength(40);
  // The last five heard "busy" after the lock wait: every counter is at 0 but units are held (none settles here).
  expect(segments.filter((s) => s === 'busy')).toHaveLength(5);
  for (let s = 0; s < sale.segments; s++) {
    const state = await segmentState(segmentKeys(itemId, s));
    expect(state.stock).toBe(0);
    expect(state.held).toHaveLength(10);
    expect(state.ops).toBe(10);
  }
});

test('more buyers than one take carries: the excess waits for the next round or walks on, claimed', async () => {
  const keys = await segmentWith(1000);
  const { taker } = takerCountingRounds();
  const users = Array.from({ length: RIDERS_PER_TAKE + 10 }, (_, i) => `x${i}`);
  const takes = await Promise.all(users.map((u) => taker.claimAndTake(keys, u, `res-${u}`)));

  // The queue holds RIDERS_PER_TAKE buyers; the ten after them walk on ('contended') with their claim made.
  expect(takes.filter((t) => t === 'taken')).toHaveLength(RIDERS_PER_TAKE);
  expect(takes.filter((t) => t === 'contended')).toHaveLength(10);
  expect(Object.keys(await redis.hgetall(keys.buyers))).toHaveLength(users.length);
  expect(await segmentState(keys)).toMatchObject({ stock: 1000 - RIDERS_PER_TAKE, lock: null });
});

test('a holder that fails before its take releases the lock at once: nothing taken, every rider hears the error', async () => {
  const keys = await segmentWith(10);
  const { taker } = takerCountingRounds(redis, {
    whileHeld: async () => {
      throw new Error('connection lost before the take');
    },
  });
  const takes = await Promise.allSettled(reservations(4).map((r) => taker.take(keys, r)));

  expect(takes.every((t) => t.status === 'rejected')).toBe(true);
  // Released by compare-and-delete now, not left to its 5 s TTL.
  expect(await segmentState(keys)).toEqual({ stock: 10, held: [], ops: 0, lock: null });
});

test('a take whose answer is lost: the units stay held under their reservations, a re-sent copy takes nothing more', async () => {
  const keys = await segmentWith(10);
  // The take's client gives up after 100 ms; the server is paused for writes while the lock is held, so the take
  // runs after the client has stopped waiting for it: its answer is lost.
  const impatient = new Redis(server.url, { commandTimeout: 100 });
  const admin = new Redis(server.url);
  let token = '';
  const { taker } = takerCountingRounds(impatient, {
    whileHeld: async (held) => {
      token = held;
      await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
    },
  });
  try {
    const riders = reservations(6, 'lost');
    const takes = await Promise.allSettled(riders.map((r) => taker.take(keys, r)));
    expect(takes.every((t) => t.status === 'rejected')).toBe(true);

    await new Promise((resolve) => setTimeout(resolve, 400)); // the pause ends; the take runs
    const state = await segmentState(keys);
    expect(state).toMatchObject({ stock: 4, ops: 6, lock: null });
    expect(state.held.sort()).toEqual([...riders].sort());

    // The same script again (ioredis re-sends an unanswered command after a reconnect): nothing more is taken.
    const resent = await new StockScripts(redis).fencedTakeAndUnlock(keys, token, riders);
    expect(resent).toEqual(riders.map(() => 'taken'));
    // A reservation that was not in the lost take is not taken by the copy either: its lock is gone.
    expect(await new StockScripts(redis).fencedTakeAndUnlock(keys, token, ['late'])).toEqual(['contended']);
    expect(await segmentState(keys)).toMatchObject({ stock: 4, ops: 6, lock: null });
  } finally {
    impatient.disconnect();
    admin.disconnect();
  }
});
