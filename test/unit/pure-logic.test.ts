// Pure logic: no services.
import { ConfigError, loadConfig } from '../../src/config';
import { reconcile } from '../../src/metrics/reconciliation';
import { saleWindow } from '../../src/orders/sales';
import { splitIntoSegments } from '../../src/stock/redis-segments';
import { parseReservation, reservationOf } from '../../src/orders/reservation';
import { SoldOutMemory } from '../../src/stock/sold-out-memory';
import { admit } from '../../src/orders/order-writer';
import { isDefiniteFailure } from '../../src/infra/postgres';

describe('splitIntoSegments', () => {
  test.each([
    [50, 8, [7, 7, 6, 6, 6, 6, 6, 6]],
    [3, 5, [1, 1, 1, 0, 0]],
    [16, 4, [4, 4, 4, 4]],
  ])('%i units in %i segments', (stock, segments, expected) => {
    const split = splitIntoSegments(stock, segments);
    expect(split).toEqual(expected);
    expect(split.reduce((a, b) => a + b, 0)).toBe(stock);
  });
});

describe('reconcile (docs/contract.md definitions)', () => {
  const facts = {
    initialStock: 50,
    redisRemaining: 0,
    activeOrders: 50,
    paidOrders: 10,
    cancelledOrders: 0,
    dbStock: 0,
    multiHolders: 0,
  };

  test('a balanced sale', () => {
    expect(reconcile(facts)).toEqual({ oversell: 0, undersell: 0, dbDrift: 0 });
  });
  test('more active orders than stock, and users holding two orders, are oversell', () => {
    expect(reconcile({ ...facts, activeOrders: 53, multiHolders: 2 }).oversell).toBe(5);
  });
  test('units neither ordered nor in Redis are undersell; phantom stock is negative undersell', () => {
    expect(reconcile({ ...facts, activeOrders: 45, redisRemaining: 2 }).undersell).toBe(3);
    expect(reconcile({ ...facts, activeOrders: 50, redisRemaining: 4 }).undersell).toBe(-4);
  });
  test('database stock off the orders is drift', () => {
    expect(reconcile({ ...facts, dbStock: 1 }).dbDrift).toBe(1);
    expect(reconcile({ ...facts, activeOrders: 40, redisRemaining: 10, dbStock: 10 }).dbDrift).toBe(0);
  });
});

describe('saleWindow', () => {
  const now = new Date('2030-01-01T12:00:00Z');
  test.each([
    [null, null, 'open'],
    [new Date('2030-01-01T13:00:00Z'), null, 'not_started'],
    [null, new Date('2030-01-01T12:00:00Z'), 'ended'],
    [new Date('2030-01-01T11:00:00Z'), new Date('2030-01-01T13:00:00Z'), 'open'],
  ])('startsAt %s endsAt %s → %s', (startsAt, endsAt, expected) => {
    expect(saleWindow({ startsAt, endsAt }, now)).toBe(expected);
  });
});

test('a reservation names its order and buyer', () => {
  expect(parseReservation(reservationOf('123', 'user_1-x'))).toEqual({ orderId: '123', userId: 'user_1-x' });
});

test('sold-out memory expires after its TTL, sending one caller per period to look again', async () => {
  const memory = new SoldOutMemory(30);
  expect(memory.soldOut('1')).toBeUndefined();
  memory.markSoldOut('1');
  memory.markSegmentEmpty('1', 3);
  expect(memory.soldOut('1')).toBe(true);
  expect([...memory.emptySegments('1')]).toEqual([3]);
  await new Promise((resolve) => setTimeout(resolve, 40));
  expect(memory.soldOut('1')).toBeUndefined(); // this caller asks Redis…
  expect(memory.soldOut('1')).toBe(true); // …the others keep the old answer meanwhile
  await new Promise((resolve) => setTimeout(resolve, 40));
  expect(memory.soldOut('1')).toBeUndefined(); // the look found nothing to renew it: the next period's caller asks
  memory.forget('1');
  expect(memory.emptySegments('1').size).toBe(0);
});

describe('SoldOutMemory after a quiet spell, and after a unit was taken', () => {
  afterEach(() => jest.useRealTimers());

  test('an answer unasked for a whole period is dropped: every caller asks again, none hears the stale one', () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const memory = new SoldOutMemory(250);
    memory.markSoldOut('1');
    jest.setSystemTime(1_000_000 + 250 + 251); // expired more than a period ago: nobody asked meanwhile
    expect([memory.soldOut('1'), memory.soldOut('1'), memory.soldOut('1')]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  test('a unit taken here clears the sold-out answer at once', () => {
    jest.useFakeTimers({ now: 2_000_000 });
    const memory = new SoldOutMemory(250);
    memory.markSoldOut('1');
    memory.markSegmentEmpty('1', 2);
    memory.markInStock('1');
    expect(memory.soldOut('1')).toBeUndefined();
    expect(memory.soldOut('1')).toBeUndefined();
    expect([...memory.emptySegments('1')]).toEqual([2]); // only the item's answer, not what it knows of segments
  });

  test('an observer reading on a timer (seenSoldOut) never takes the recheck from a buyer, nor keeps it alive', () => {
    jest.useFakeTimers({ now: 3_000_000 });
    const memory = new SoldOutMemory(250);
    memory.markSoldOut('1');
    expect(memory.seenSoldOut('1')).toBe(true);
    jest.setSystemTime(3_000_000 + 300); // expired: the next buyer should be the one sent to look again
    for (let i = 0; i < 5; i++) expect(memory.seenSoldOut('1')).toBe(false);
    expect(memory.soldOut('1')).toBeUndefined(); // this buyer looks…
    expect(memory.soldOut('1')).toBe(true); // …the others keep the old answer meanwhile
    jest.setSystemTime(3_000_000 + 300 + 600); // the look found nothing: however often the observer read meanwhile
    expect(memory.seenSoldOut('1')).toBe(false);
    expect(memory.soldOut('1')).toBeUndefined();
    expect(memory.soldOut('1')).toBeUndefined(); // dropped: every buyer asks
  });
});

describe('loadConfig', () => {
  test('defaults follow the contract', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 3000, maxBodyBytes: 8192 });
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379' });
    expect(config.kafka.partitions).toBe(3);
    expect(config.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/seckill');
    expect(config.kafka.brokers).toBeUndefined();
    expect(config.adminToken).toBeUndefined();
    expect(config.stock.strategy).toBe('segmented-lock');
  });
  test('KAFKA_BROKERS is a comma list', () => {
    expect(loadConfig({ KAFKA_BROKERS: 'a:9092, b:9092' }).kafka.brokers).toEqual(['a:9092', 'b:9092']);
  });
  test('the lock services: unset by default, comma lists, one lease', () => {
    expect(loadConfig({}).stock.locks).toMatchObject({
      etcdEndpoints: undefined,
      zookeeperConnect: undefined,
      redlockUrls: undefined,
      leaseMs: 2000,
    });
    const urls = 'redis://a:1, redis://b:2,redis://c:3';
    expect(loadConfig({ REDLOCK_URLS: urls }).stock.locks.redlockUrls).toEqual([
      'redis://a:1',
      'redis://b:2',
      'redis://c:3',
    ]);
  });
  test('REDIS_CLUSTER_NODES makes the Redis a cluster; KAFKA_PARTITIONS sizes the orders topic', () => {
    const config = loadConfig({
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001',
      KAFKA_PARTITIONS: '12',
    });
    expect(config.redis).toEqual({ clusterNodes: ['10.0.0.1:7000', '10.0.0.2:7001'] });
    expect(config.kafka.partitions).toBe(12);
  });
  test.each([
    [{ REDLOCK_URLS: 'redis://a:1,redis://b:2' }, 'REDLOCK_URLS'],
    [{ LOCK_LEASE_MS: '10' }, 'LOCK_LEASE_MS'],
    [{ PORT: 'x' }, 'PORT'],
    [{ STOCK_STRATEGY: 'yolo' }, 'STOCK_STRATEGY'],
    [{ ADMIN_TOKEN: 'short' }, 'ADMIN_TOKEN'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ REDIS_CLUSTER_NODES: 'redis://a:1' }, 'REDIS_CLUSTER_NODES'],
    [{ KAFKA_PARTITIONS: '0' }, 'KAFKA_PARTITIONS'],
  ])('rejects %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });
});

describe('the arbiter (admit)', () => {
  const order = (orderId: string, segment = 0) => ({
    orderId,
    itemId: '7',
    userId: `u${orderId}`,
    segment,
    paymentTimeoutMs: 1000,
  });
  const row = (free: number, enforced = true) => ({ free, enforced });

  test('admits in batch order while the segment has free units, refuses the rest', () => {
    const orders = [order('1'), order('2'), order('3'), order('4', 1)];
    const ledger = new Map([
      ['7:0', row(2)],
      ['7:1', row(0)],
    ]);
    expect(admit(orders, new Set(['1', '2', '3', '4']), ledger)).toEqual([
      'ordered',
      'ordered',
      'refused',
      'refused',
    ]);
  });

  test('a row the unique constraint refused takes no unit: the next buyer gets it', () => {
    const orders = [order('1'), order('2')];
    expect(admit(orders, new Set(['2']), new Map([['7:0', row(1)]]))).toEqual(['duplicate', 'ordered']);
  });

  test('no ledger row is a refusal (fail safe); an unenforced row (naive) admits everything', () => {
    expect(admit([order('1')], new Set(['1']), new Map())).toEqual(['refused']);
    expect(admit([order('1'), order('2')], new Set(['1', '2']), new Map([['7:0', row(0, false)]]))).toEqual([
      'ordered',
      'ordered',
    ]);
  });
});

describe('commit outcomes (isDefiniteFailure)', () => {
  test('before COMMIT was sent every failure is a rollback', () => {
    expect(isDefiniteFailure(new Error('Connection terminated unexpectedly'), false)).toBe(true);
  });
  test('after COMMIT: a server error is a rollback, a broken connection or a shutdown is unknown', () => {
    expect(isDefiniteFailure(Object.assign(new Error('x'), { code: '40001' }), true)).toBe(true);
    expect(isDefiniteFailure(Object.assign(new Error('x'), { code: '23505' }), true)).toBe(true);
    expect(isDefiniteFailure(Object.assign(new Error('x'), { code: '57P01' }), true)).toBe(false);
    expect(isDefiniteFailure(Object.assign(new Error('x'), { code: '08006' }), true)).toBe(false);
    expect(isDefiniteFailure(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), true)).toBe(false);
    expect(isDefiniteFailure(new Error('Connection terminated unexpectedly'), true)).toBe(false);
  });
});
