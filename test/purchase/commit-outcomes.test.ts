// The database's answers, each one decided for real: a COMMIT whose reply never arrives, a batch where the unique
// constraint refuses one buyer, a batch stalled on a locked row, a take script delivered twice, a cancel whose
// give-back fails, two processes with the same pid minting order ids.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { segmentKeys } from '../../src/stock/keys';
import { StockScripts } from '../../src/stock/scripts';
import { startCommitCutter, type CommitCutter } from '../support/pg-commit-cutter';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server';
import { buyUntilDecided, itemStats, startStack, waitFor, type TestStack } from '../support/stack';

describe('a COMMIT whose reply never arrives', () => {
  let cutter: CommitCutter;
  let stack: TestStack;
  beforeAll(async () => {
    cutter = await startCommitCutter();
    stack = await startStack(3, {
      viaDatabaseUrl: (url) => cutter.url(new URL(url).pathname.slice(1)),
      env: { ORDER_BATCH_LINGER_MS: '20' },
    });
  });
  afterAll(async () => {
    await stack.stop();
    await cutter.stop();
  });

  test('is read back: the buyers whose orders committed hear "ordered", nothing oversold, no unit lost', async () => {
    const stock = 60;
    const { itemId } = await stack.createSale({ name: 'cut-commit', stock, segments: 4 });
    const cut = cutter.armOnce();
    const answers = await buyUntilDecided(
      stack,
      itemId,
      Array.from({ length: 150 }, (_, i) => `c${i}`),
    );
    await cut;
    expect(cutter.cuts).toBe(1);

    const ordered = [...answers].filter(([, s]) => s === 'ordered').map(([user]) => user);
    const rows = await stack.service.db.order.findMany({ where: { itemId: BigInt(itemId) } });
    // Every order in the database was answered "ordered" (none was given back while it existed) and vice versa.
    expect(rows.map((o) => o.userId).sort()).toEqual(ordered.sort());
    expect(rows).toHaveLength(stock);
    expect(await itemStats(stack, itemId)).toMatchObject({ oversell: 0, undersell: 0, redisRemaining: 0 });
  });
});

describe('the database decides, batch by batch', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // One batch at a time, lingering long enough that twenty concurrent buyers share it.
    stack = await startStack(4, { env: { ORDER_BATCH_LINGER_MS: '300', ORDER_BATCH_CONCURRENCY: '1' } });
  });
  afterAll(async () => {
    await stack.stop();
  });

  test('a batch where the unique constraint refuses one buyer: the others are ordered, its unit goes back', async () => {
    const { itemId } = await stack.createSale({ name: 'one-refused', stock: 30, segments: 2 });
    // The database already holds an order of this user; Redis does not know it.
    await stack.service.db.order.create({
      data: { id: 1n, userId: 'already', itemId: BigInt(itemId), segment: 0 },
    });
    const batchesBefore = (await stack.service.metrics.orderBatchSize.get()).values.find(
      (v) => v.metricName === 'seckill_order_batch_size_count',
    )?.value;
    const users = ['already', ...Array.from({ length: 19 }, (_, i) => `b${i}`)];
    const results = await Promise.all(users.map((userId) => stack.post('/seckill', { userId, itemId })));

    expect(results[0].body).toEqual({ status: 'duplicate' });
    expect(results.slice(1).every((r) => r.status === 201)).toBe(true);
    const batches = (await stack.service.metrics.orderBatchSize.get()).values.find(
      (v) => v.metricName === 'seckill_order_batch_size_count',
    )?.value;
    expect((batches ?? 0) - (batchesBefore ?? 0)).toBe(1); // all twenty went in one transaction
    const stats = await itemStats(stack, itemId);
    expect(stats).toMatchObject({ activeOrders: 20, redisRemaining: 11, oversell: 0 });
    const ledger = await stack.service.db.stockSegment.findMany({ where: { itemId: BigInt(itemId) } });
    expect(ledger.reduce((sum, row) => sum + row.sold, 0)).toBe(19); // the refused row took no unit
  });

  test('a take script delivered twice for one reservation takes one unit', async () => {
    const scripts = new StockScripts(stack.service.redis);
    const keys = segmentKeys('twice', 0);
    const r = stack.service.redis;
    await r.del(keys.held, keys.buyers, keys.ops);
    await r.set(keys.stock, 5);
    expect(await scripts.claimAndTake(keys, 'u1', 'res-1')).toBe('taken');
    expect(await scripts.claimAndTake(keys, 'u1', 'res-1')).toBe('taken'); // the re-sent copy
    expect(await scripts.takeIfPositive(keys, 'res-2')).toBe('taken');
    expect(await scripts.takeIfPositive(keys, 'res-2')).toBe('taken');
    await r.set(keys.lock, 'token');
    expect(await scripts.fencedTakeAndUnlock(keys, 'token', ['res-3'])).toEqual(['taken']);
    expect(await r.get(keys.lock)).toBeNull(); // the take released the lock
    expect(await scripts.fencedTakeAndUnlock(keys, 'token', ['res-3'])).toEqual(['taken']);
    expect(await r.get(keys.stock)).toBe('2');
    expect(await r.zcard(keys.held)).toBe(3);
    // A re-sent claim recognises its own reservation; another reservation of the same user is a duplicate.
    expect(await scripts.claim(keys, 'u1', 'res-1')).toBe(true);
    expect(await scripts.claimAndTake(keys, 'u1', 'res-9')).toBe('duplicate');
    expect(await r.get(keys.stock)).toBe('2');
  });
});

describe('a batch stalled in the database (its ledger row locked by another session)', () => {
  let stack: TestStack;
  // Two sessions: one holds the lock in its transaction; the other watches (a transaction sees pg_stat_activity as it
  // was at its first look).
  let locker: Client;
  let watcher: Client;
  beforeAll(async () => {
    stack = await startStack(4, { env: { ORDER_BATCH_CONCURRENCY: '1', ORDER_QUEUE_WAIT_MS: '500' } });
    locker = new Client({ connectionString: stack.databaseUrl });
    watcher = new Client({ connectionString: stack.databaseUrl });
    await Promise.all([locker.connect(), watcher.connect()]);
  });
  afterAll(async () => {
    await Promise.all([locker.end(), watcher.end()]);
    await stack.stop();
  });

  test('the orders queued behind it are answered busy with their units back, not held; the stalled one commits', async () => {
    const stock = 10;
    const { itemId } = await stack.createSale({ name: 'stalled', stock, segments: 1 });
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM stock_segments WHERE item_id = $1 FOR UPDATE', [itemId]);
    const stalled = stack.post('/seckill', { userId: 'stalled', itemId });
    // Its batch waits for the row lock: the only batch the writer runs at a time.
    await waitFor('the batch waiting for the row lock', async () => {
      const { rows } = await watcher.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
      );
      return rows[0].n === 1 || undefined;
    });

    // Answered while the row is still locked: without the queue's bound these would wait for the lock (for ever).
    const queued = await Promise.all(
      ['q1', 'q2', 'q3'].map((userId) => stack.post('/seckill', { userId, itemId })),
    );
    expect(queued.map((r) => ({ status: r.status, body: r.body }))).toEqual(
      Array(3).fill({ status: 503, body: { status: 'busy' } }),
    );
    expect(await itemStats(stack, itemId)).toMatchObject({ redisRemaining: stock - 1, activeOrders: 0 });

    await locker.query('COMMIT');
    expect((await stalled).body).toMatchObject({ status: 'ordered' });
    // Told busy, they may buy: their claims went with their units.
    const again = await Promise.all(
      ['q1', 'q2', 'q3'].map((userId) => stack.post('/seckill', { userId, itemId })),
    );
    expect(again.map((r) => r.body.status)).toEqual(['ordered', 'ordered', 'ordered']);
    expect(await itemStats(stack, itemId)).toMatchObject({
      activeOrders: 4,
      redisRemaining: stock - 4,
      oversell: 0,
    });
  });
});

describe('a cancel whose give-back fails', () => {
  let redis: PrivateRedis;
  let stack: TestStack;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    stack = await startStack(0, { env: { REDIS_URL: redis.url } });
  });
  afterAll(async () => {
    await stack.stop();
    await redis.stop();
  });

  test('is owed in the database and retried until the unit is back, once', async () => {
    const { itemId } = await stack.createSale({ name: 'owed', stock: 3, segments: 1 });
    const bought = await stack.post('/seckill', { userId: 'late-payer', itemId });
    expect(bought.status).toBe(201);
    const counter = () => stack.service.redis.get(segmentKeys(itemId, 0).stock);
    expect(await counter()).toBe('2');

    // A real refusal by the Redis server: scripts are forbidden while the order expires.
    const admin = new Redis(redis.url);
    await admin.call('ACL', 'SETUSER', 'default', '-eval', '-evalsha');
    await expect(stack.service.payments.expire(bought.body.orderId)).rejects.toThrow(/NOPERM|permission/i);
    await admin.call('ACL', 'SETUSER', 'default', '+@all');
    await admin.quit();

    const order = await stack.service.db.order.findUniqueOrThrow({
      where: { id: BigInt(bought.body.orderId) },
    });
    expect(order).toMatchObject({ status: 'CANCELLED', stockReturnedAt: null }); // the give-back is owed
    expect(await counter()).toBe('2');

    expect(await stack.service.payments.returnOwedUnits()).toBe(1);
    expect(await counter()).toBe('3');
    expect(await stack.service.payments.returnOwedUnits()).toBe(0);
    expect(await stack.service.payments.expire(bought.body.orderId)).toBe('cancelled'); // a late job retry
    expect(await counter()).toBe('3');
    expect(await itemStats(stack, itemId)).toMatchObject({
      activeOrders: 0,
      undersell: 0,
      redisRemaining: 3,
    });
  });
});

test('two processes with the same pid and no WORKER_ID mint distinct order ids', async () => {
  const redis = await startPrivateRedis();
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const child = () => {
      // A fresh pid namespace each: both children are pid 1. `node --import tsx`, not the tsx CLI: the CLI opens an
      // IPC pipe named after its pid in the shared /tmp, and two pid-1 CLIs collide on it.
      const proc = spawn(
        'unshare',
        [
          '--pid',
          '--fork',
          process.execPath,
          '--import',
          'tsx',
          path.join(__dirname, '../support/bin/mint-ids.ts'),
        ],
        { env: { ...process.env, REDIS_URL: redis.url, WORKER_ID: '' }, stdio: ['pipe', 'pipe', 'inherit'] },
      );
      children.push(proc);
      const line = new Promise<{ pid: number; ids: string[] }>((resolve, reject) => {
        createInterface({ input: proc.stdout! }).once('line', (text) => resolve(JSON.parse(text)));
        proc.once('exit', (code) =>
          reject(new Error(`mint-ids exited with ${code} before printing its ids`)),
        );
      });
      return { proc, line };
    };
    const a = child();
    const b = child();
    const [first, second] = await Promise.all([a.line, b.line]);
    for (const { proc } of [a, b]) proc.stdin!.end('done\n');
    await waitFor('both children to exit', async () => a.proc.exitCode !== null && b.proc.exitCode !== null);

    expect(first.pid).toBe(second.pid);
    const all = new Set([...first.ids, ...second.ids]);
    expect(all.size).toBe(first.ids.length + second.ids.length);
  } finally {
    for (const proc of children) if (proc.exitCode === null) proc.kill('SIGKILL');
    await redis.stop();
  }
});
