// Scale-out on real engines: a crowd through HAProxy to three API processes, on a local Redis Cluster (three masters,
// three replicas), with two relays and two consumers sharing a partitioned topic. Each sale ends exact, also with a
// master killed (-9) mid-crowd, an API process killed mid-crowd, and a consumer and a relay killed mid-stream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../src/infra/net';
import { createLogger } from '../../src/infra/logger';
import { startBroker, type RunningBroker } from '../../src/kafka-broker';
import { startLocalRedisCluster, type LocalRedisCluster } from '../../src/sim/redis-cluster';
import { startServiceProcess, type ServiceProcess } from '../../src/sim/service-process';
import { startHaproxy, type RunningHaproxy } from '../support/haproxy';
import {
  ADMIN_TOKEN,
  apiAt,
  buyUntilDecided,
  exactEnd,
  faultAfter,
  freshDatabase,
  latecomersUntilSold,
} from '../support/stack';

jest.setTimeout(300_000);

const STOCK = 300;
const BUYERS = 450;
let cluster: LocalRedisCluster;
let database: Awaited<ReturnType<typeof freshDatabase>>;
let broker: RunningBroker;
let kafkaDir: string;
let haproxy: RunningHaproxy;
let env: Record<string, string>;
const apiPorts: number[] = [];
const apis: ServiceProcess[] = [];
const relays: ServiceProcess[] = [];
const consumers: ServiceProcess[] = [];
let api: ReturnType<typeof apiAt>;

const startApi = (slot: number) =>
  startServiceProcess({ roles: 'api', env: { ...env, PORT: String(apiPorts[slot]) } }).then(
    (p) => (apis[slot] = p),
  );
const startRelay = (slot: number) =>
  startServiceProcess({ roles: 'relay,worker', env }).then((p) => (relays[slot] = p));
const startConsumer = (slot: number) =>
  startServiceProcess({ roles: 'consumer', env }).then((p) => (consumers[slot] = p));

beforeAll(async () => {
  [cluster, database] = await Promise.all([startLocalRedisCluster({ masters: 3 }), freshDatabase()]);
  kafkaDir = mkdtempSync(join(tmpdir(), 'seckill-kafka-'));
  broker = await startBroker({ port: 0, dataDir: kafkaDir, logger: createLogger('silent') });
  env = {
    DATABASE_URL: database.url,
    REDIS_CLUSTER_NODES: cluster.nodes.join(','),
    KAFKA_BROKERS: broker.address,
    KAFKA_PARTITIONS: '4',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    ADMIN_TOKEN,
    RATE_LIMIT_USER_PER_SEC: '0',
    SWEEP_INTERVAL_MS: '1000',
    RESERVATION_GRACE_MS: '5000',
  };
  for (let i = 0; i < 3; i++) apiPorts.push(await freePort());
  // One at a time: the first creates the topic; a 2-core machine starts tsx processes faster in a row.
  for (let i = 0; i < 3; i++) await startApi(i);
  for (let i = 0; i < 2; i++) await startRelay(i);
  for (let i = 0; i < 2; i++) await startConsumer(i);
  haproxy = await startHaproxy(apis.map((p) => p.url!));
  api = apiAt(haproxy.url);
});

afterAll(async () => {
  await haproxy?.stop();
  await Promise.all([...apis, ...relays, ...consumers].map((p) => p.stop()));
  await broker?.stop();
  await cluster?.stop();
  await database?.drop();
  rmSync(kafkaDir, { recursive: true, force: true });
});

/**
 * A sale to the crowd, `fault` fired a third of the way in, then latecomers until it sells out; the end must be exact,
 * each user once, each id once.
 */
async function crowdEndsExact(name: string, fault?: () => Promise<void>) {
  const { itemId } = await api.createSale({ name, stock: STOCK, segments: 6, strategy: 'lua' });
  const users = Array.from({ length: BUYERS }, (_, i) => `${name}-${i}`);
  const trigger = fault ? faultAfter(STOCK / 3, fault) : undefined;
  const answers = await buyUntilDecided(api, itemId, users, {
    concurrency: 24,
    deadlineMs: 120_000,
    onAnswer: trigger?.onAnswer,
  });
  if (trigger) {
    expect(trigger.fired()).toBeDefined();
    await trigger.fired();
  }
  const counts = [...answers.values()].reduce<Record<string, number>>(
    (sum, status) => ({ ...sum, [status]: (sum[status] ?? 0) + 1 }),
    {},
  );
  expect(counts.ordered ?? 0).toBeGreaterThan(0);
  await latecomersUntilSold(api, itemId, STOCK, { prefix: name, deadlineMs: 60_000 });
  const stats = await exactEnd(api, itemId, STOCK, 120_000);
  expect(stats).toMatchObject({ activeOrders: STOCK, oversell: 0, undersell: 0, dbDrift: 0 });

  const db = new Client({ connectionString: database.url });
  await db.connect();
  try {
    const twice = await db.query(
      'SELECT user_id FROM orders WHERE item_id = $1 GROUP BY user_id HAVING count(*) > 1',
      [itemId],
    );
    expect(twice.rows).toEqual([]);
    const ids = await db.query(
      'SELECT count(*)::int AS n, count(DISTINCT id)::int AS d FROM orders WHERE item_id = $1',
      [itemId],
    );
    expect(ids.rows[0].n).toBe(ids.rows[0].d);
    expect(ids.rows[0].n).toBeGreaterThanOrEqual(STOCK);
  } finally {
    await db.end();
  }
}

test('three API processes behind HAProxy on a Redis Cluster: exact', async () => {
  await crowdEndsExact('plain');
});

test('one API process killed (-9) mid-crowd: exact', async () => {
  await crowdEndsExact('api-kill', () => apis[1].kill());
  await startApi(1); // back on its port: HAProxy's health check lets it in again
});

test('one consumer and one relay killed (-9) mid-crowd: the drain stays exact', async () => {
  await crowdEndsExact('consumer-kill', async () => {
    await Promise.all([consumers[0].kill(), relays[0].kill()]);
  });
  await Promise.all([startConsumer(0), startRelay(0)]);
});

test('one Redis master killed (-9) mid-crowd: its replica takes over, exact', async () => {
  let killed = '';
  await crowdEndsExact('master-kill', async () => {
    killed = await cluster.killMaster();
  });
  expect(killed).not.toBe('');
  await cluster.waitHealthy();
});
