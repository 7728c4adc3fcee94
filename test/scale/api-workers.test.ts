// `seckill serve --workers 2`: two API processes on one port, each minting order ids under a worker id of its own;
// a worker killed with -9 is replaced by the primary and the sale still ends exact.
import { execFileSync } from 'node:child_process';
import { startServiceProcess, type ServiceProcess } from '../../src/sim/service-process';
import {
  ADMIN_TOKEN,
  apiAt,
  buyUntilDecided,
  exactEnd,
  faultAfter,
  startStack,
  type TestStack,
} from '../support/stack';

jest.setTimeout(240_000);

let stack: TestStack;
let workers: ServiceProcess;
beforeAll(async () => {
  stack = await startStack(13, { roles: ['api', 'relay', 'consumer', 'worker'] });
  workers = await startServiceProcess({
    roles: 'api',
    workers: 2,
    env: {
      DATABASE_URL: stack.config.databaseUrl,
      REDIS_URL: stack.config.redis.url!,
      KAFKA_BROKERS: stack.service.running.brokers!.join(','),
      ADMIN_TOKEN,
      RATE_LIMIT_USER_PER_SEC: '0',
      PORT: '0',
    },
  });
});
afterAll(async () => {
  await workers?.stop();
  await stack?.stop();
});

/** The 10 machine bits of a snowflake id (timestamp · 10 bits · 12-bit sequence). */
const machineOf = (orderId: bigint) => (orderId >> 12n) & 1023n;

test('two workers on one port: distinct worker ids, a killed worker replaced, the sale exact', async () => {
  const api = apiAt(workers.url!);
  const { itemId } = await api.createSale({ name: 'workers', stock: 200, segments: 8 });
  const users = Array.from({ length: 300 }, (_, i) => `w${i}`);
  const primaryPid = workers.child.pid!;
  // One worker (a child of the primary) dies a third of the way in; buyers retry what it dropped.
  const fault = faultAfter(60, async () => {
    const [worker] = execFileSync('pgrep', ['-P', String(primaryPid)], { encoding: 'utf8' })
      .trim()
      .split('\n');
    process.kill(Number(worker), 'SIGKILL');
  });
  await buyUntilDecided(api, itemId, users, { concurrency: 16, onAnswer: fault.onAnswer });
  expect(fault.fired()).toBeDefined();
  await exactEnd(api, itemId, 200, 120_000);
  const orders = await stack.service.db.order.findMany({
    where: { itemId: BigInt(itemId) },
    select: { id: true },
  });
  expect(new Set(orders.map((order) => machineOf(order.id))).size).toBeGreaterThanOrEqual(2);
});
