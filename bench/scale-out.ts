/**
 * Scale-out on one machine, in one run, as ratios against baselines measured in the same run:
 *   - the purchase path (POST /seckill, distinct buyers, one item with stock to spare) served by 1, 2 and 4 API
 *     processes (`serve --role api --workers N`), the relay, consumer and worker roles in this process;
 *   - the take path (the lua strategy's claim-and-take, one hot item) on one Redis vs a three-master Redis Cluster.
 *   npm run bench:scale        sizes: BENCH_SCALE_SECONDS, BENCH_SCALE_CONNECTIONS, BENCH_SCALE_TAKES
 * autocannon and the take loop run in this process; `uptime`'s load average is printed with the figures, since the
 * machine is shared and a busy neighbour moves every number.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import autocannon from 'autocannon';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/infra/logger';
import { createPrisma } from '../src/infra/prisma';
import { createRedis, type RedisClient } from '../src/infra/redis';
import { DatabaseLedger } from '../src/orders/ledger';
import { buildService, ROLES } from '../src/service';
import { startSimBackends } from '../src/sim/backends';
import { startLocalRedisCluster } from '../src/sim/redis-cluster';
import { startServiceProcess } from '../src/sim/service-process';
import { createStock } from '../src/stock';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SECONDS = env('BENCH_SCALE_SECONDS', 8);
const CONNECTIONS = env('BENCH_SCALE_CONNECTIONS', 64);
const TAKES = env('BENCH_SCALE_TAKES', 20_000);
const TAKE_CONCURRENCY = 64;
const API_PROCESSES = [1, 2, 4];
const SEGMENTS = 8;

const load = () =>
  os
    .loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');

async function purchasePath(): Promise<Record<number, number>> {
  const backends = await startSimBackends({ PATH: process.env.PATH });
  const serviceEnv = {
    ...backends.env,
    PORT: '0',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_USER_PER_SEC: '0',
    MAX_IN_FLIGHT: '0',
  };
  const service = buildService(loadConfig(serviceEnv), { log: createLogger('warn', 'bench') });
  const perSecond: Record<number, number> = {};
  try {
    const { brokers } = await service.start(ROLES.filter((role) => role !== 'api'));
    for (const workers of API_PROCESSES) {
      const sale = await service.sales.create({
        name: `scale-${workers}`,
        stock: 10_000_000,
        segments: SEGMENTS,
        strategy: 'lua',
        paymentTimeoutMs: 15 * 60_000,
      });
      const api = await startServiceProcess({
        roles: 'api',
        workers,
        env: { ...serviceEnv, KAFKA_BROKERS: brokers!.join(',') },
      });
      try {
        let sent = 0;
        const prefix = randomUUID().slice(0, 8);
        const result = await new Promise<autocannon.Result>((resolve, reject) =>
          autocannon(
            {
              url: `${api.url}/seckill`,
              connections: CONNECTIONS,
              duration: SECONDS,
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              requests: [
                {
                  setupRequest: (request) => ({
                    ...request,
                    body: JSON.stringify({ userId: `${prefix}-${sent++}`, itemId: sale.itemId }),
                  }),
                },
              ],
            },
            (err: unknown, res: autocannon.Result) => (err ? reject(err) : resolve(res)),
          ),
        );
        perSecond[workers] = result['2xx'] / SECONDS;
        console.log(
          `  purchase path, ${workers} API process(es): ${perSecond[workers].toFixed(0)} orders/s (load ${load()})`,
        );
      } finally {
        await api.stop();
      }
    }
  } finally {
    await service.stop();
    await backends.stop();
  }
  return perSecond;
}

/** claim-and-take of distinct buyers on one hot item, TAKE_CONCURRENCY at a time, straight on the stock module. */
async function takes(redis: RedisClient, databaseUrl: string): Promise<number> {
  const db = createPrisma(databaseUrl, 2);
  const stock = createStock(redis, new DatabaseLedger(db), loadConfig({}).stock);
  const lua = stock.get('lua');
  const sale = { itemId: String(Date.now()), stock: TAKES * 2, segments: SEGMENTS };
  await lua.load(sale);
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: TAKE_CONCURRENCY }, async () => {
      for (let n = next++; n < TAKES; n = next++) {
        await lua.take(sale, { userId: `u${n}`, reservation: `r${n}` });
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await stock.close();
  await db.$disconnect();
  return TAKES / seconds;
}

async function takePath(): Promise<{ single: number; cluster: number }> {
  const backends = await startSimBackends({ PATH: process.env.PATH });
  const cluster = await startLocalRedisCluster({ masters: 3 });
  const single = createRedis(backends.env.REDIS_URL);
  const clustered = createRedis({ clusterNodes: cluster.nodes });
  try {
    await takes(single, backends.env.DATABASE_URL); // warm-up: scripts loaded, connections open
    const result = { single: await takes(single, backends.env.DATABASE_URL), cluster: 0 };
    await takes(clustered, backends.env.DATABASE_URL);
    result.cluster = await takes(clustered, backends.env.DATABASE_URL);
    console.log(`  take path, one Redis: ${result.single.toFixed(0)} takes/s`);
    console.log(`  take path, 3-master cluster: ${result.cluster.toFixed(0)} takes/s (load ${load()})`);
    return result;
  } finally {
    single.disconnect();
    clustered.disconnect();
    await cluster.stop();
    await backends.stop();
  }
}

async function main() {
  console.log(`scale-out bench on ${os.cpus().length} cores, load ${load()}`);
  const purchase = await purchasePath();
  const take = await takePath();
  console.log('\nratios (same run):');
  for (const workers of API_PROCESSES.slice(1)) {
    console.log(
      `  purchase path ${workers} vs 1 API process: ${(purchase[workers] / purchase[1]).toFixed(2)}×`,
    );
  }
  console.log(`  take path 3-master cluster vs one Redis: ${(take.cluster / take.single).toFixed(2)}×`);
  console.log(`load average at the end: ${load()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
