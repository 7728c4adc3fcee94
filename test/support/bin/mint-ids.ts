// Child of the worker-id test: a process with no WORKER_ID leases its worker id from Redis, then prints its pid and
// a run of order ids as JSON. Run in a fresh pid namespace, so two of them have the same pid.
import { createLogger } from '../../../src/infra/logger';
import { createRedis } from '../../../src/infra/redis';
import { IdGenerator, leaseWorkerId } from '../../../src/orders/ids';

async function main() {
  const redis = createRedis(process.env.REDIS_URL!);
  const ids = new IdGenerator();
  const release = await leaseWorkerId(redis, ids, createLogger('silent'));
  const minted = Array.from({ length: 2000 }, () => ids.next());
  // Both children must hold their leases at the same time: wait for the signal on stdin before giving it back.
  process.stdout.write(JSON.stringify({ pid: process.pid, ids: minted }) + '\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  await release();
  await redis.quit();
}

void main();
