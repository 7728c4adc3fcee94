// `seckill serve --workers 2`: two API processes on one port (node:cluster), the sale exact; one of them killed (-9)
// mid-crowd is replaced by the primary, and the sale still ends exact.
import { execFileSync } from 'node:child_process';
import { startServiceProcess, type ServiceProcess } from '../../src/sim/service-process';
import {
  joiningEnv,
  apiAt,
  buyUntilDecided,
  exactEnd,
  faultAfter,
  latecomersUntilSold,
  startStack,
  waitFor,
  type TestStack,
} from '../support/stack';

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
    env: joiningEnv(stack, { PORT: '0', SWEEP_INTERVAL_MS: '1000', RESERVATION_GRACE_MS: '3000' }),
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

test('a worker killed (-9) mid-crowd is replaced, and the sale ends exact', async () => {
  const api = apiAt(workers.url!);
  const { itemId } = await api.createSale({ name: 'worker-kill', stock: 200, segments: 8 });
  const before = childrenOf(workers.pid!);
  expect(before).toHaveLength(2);
  const victim = before[0];
  const kill = faultAfter(60, async () => {
    process.kill(victim, 'SIGKILL');
  });
  const users = Array.from({ length: 300 }, (_, i) => `k${i}`);
  await buyUntilDecided(api, itemId, users, { concurrency: 16, onAnswer: kill.onAnswer });
  expect(kill.fired()).toBeDefined();

  const replaced = await waitFor('the primary to fork a replacement', async () => {
    const now = childrenOf(workers.pid!);
    return now.length === 2 && !now.includes(victim) ? now : undefined;
  });
  expect(replaced).toContain(before[1]);
  await latecomersUntilSold(api, itemId, 200, { prefix: 'worker-kill', deadlineMs: 60_000 });
  expect(await exactEnd(api, itemId, 200, 120_000)).toMatchObject({
    activeOrders: 200,
    oversell: 0,
    undersell: 0,
    dbDrift: 0,
    multiHolders: 0,
  });
});
