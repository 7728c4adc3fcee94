// The inventory consumer as a real process (`seckill serve --role consumer`), killed with SIGKILL mid-stream and
// started again: no deduction lost or doubled.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { drained, startStack, waitFor, type TestStack } from '../support/stack';

let stack: TestStack;
let brokers: string;
beforeAll(async () => {
  stack = await startStack(5, { roles: ['api', 'relay', 'worker'] });
  brokers = stack.service.running.brokers!.join(',');
});
afterAll(async () => {
  await stack.stop();
});

function startConsumerProcess(): ChildProcess {
  // The source under test through tsx in this one process (the bin would run dist/, possibly older than src/).
  return spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '../../src/main.ts'), 'serve', '--role', 'consumer', '--no-migrate'],
    {
      env: {
        ...process.env,
        DATABASE_URL: stack.config.databaseUrl,
        REDIS_URL: stack.config.redis.url!,
        KAFKA_BROKERS: brokers,
        LOG_LEVEL: 'warn',
        KAFKA_SESSION_TIMEOUT_MS: '6000',
      },
      stdio: 'ignore',
    },
  );
}

const applied = () => stack.service.db.processedMessage.count({ where: { consumerGroup: 'inventory' } });

test('SIGKILL mid-stream, restart: every order deducted exactly once', async () => {
  const { itemId } = await stack.createSale({ name: 'kill', stock: 400, segments: 8 });
  // Buyers retry "busy" (a loaded machine can outlast LOCK_WAIT_MS): the stream must carry all 400 orders.
  const buy = async (userId: string) => {
    for (let attempt = 0; attempt < 50; attempt++) {
      const res = await stack.post('/seckill', { userId, itemId });
      if (res.body?.status !== 'busy') return res.body?.status ?? `http_${res.status}`;
    }
    return 'busy';
  };
  const answers: Record<string, number> = {};
  const buyWaves = async (from: number, to: number) => {
    for (let wave = from; wave < to; wave++) {
      const results = await Promise.all(Array.from({ length: 25 }, (_, i) => buy(`k${wave}-${i}`)));
      for (const status of results) answers[status] = (answers[status] ?? 0) + 1;
    }
  };
  let consumer = startConsumerProcess();
  // Orders keep arriving while the consumer works, so the kill lands in the middle of the stream.
  const firstHalf = buyWaves(0, 8);
  await waitFor('the consumer to apply some messages', async () => (await applied()) > 0, 60_000);
  consumer.kill('SIGKILL');
  await new Promise((resolve) => consumer.once('exit', resolve));
  const atKill = await applied();
  await firstHalf;
  await buyWaves(8, 16);
  expect(answers).toEqual({ ordered: 400 }); // every buyer got a unit: the stream really carries 400 orders
  consumer = startConsumerProcess();
  try {
    const stats = await drained(stack, itemId, 120_000);
    expect(stats).toMatchObject({ activeOrders: 400, dbStock: 0, dbDrift: 0, oversell: 0, undersell: 0 });
    expect(await applied()).toBe(400);
    expect(atKill).toBeLessThan(400);
  } finally {
    consumer.kill('SIGTERM');
    const exitCode = await new Promise((resolve) => consumer.once('exit', resolve));
    expect(exitCode).toBe(0); // drained and closed, not killed
  }
});
