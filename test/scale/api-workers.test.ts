// `seckill serve --workers 2`: two API processes on one port (node:cluster), the sale exact. (Killed API processes
// are covered behind HAProxy in scale-out.test.ts.)
import { execFileSync } from 'node:child_process';
import { startServiceProcess, type ServiceProcess } from '../../src/sim/service-process';
import { ADMIN_TOKEN, apiAt, buyUntilDecided, exactEnd, startStack, type TestStack } from '../support/stack';

jest.setTimeout(240_000);

let stack: TestStack;
let workers: ServiceProcess;
beforeAll(async () => {
  stack = await startStack(13, {
    roles: ['api', 'relay', 'consumer', 'worker'],
  });
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

const childrenOf = (pid: number) =>
  execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map(Number);

test('two workers on one port sell the sale exact', async () => {
  const api = apiAt(workers.url!);
  const { itemId } = await api.createSale({ name: 'workers', stock: 200, segments: 8 });
  expect(childrenOf(workers.pid!)).toHaveLength(2);
  const users = Array.from({ length: 300 }, (_, i) => `w${i}`);
  await buyUntilDecided(api, itemId, users, { concurrency: 16 });
  await exactEnd(api, itemId, 200, 120_000);
});
