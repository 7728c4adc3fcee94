// The simulator's lock backends: private etcd, ZooKeeper and Redlock servers where the programs are installed; where
// they are not, the strategy is skipped with the message that says how to get them.
import { Etcd3 } from 'etcd3';
import { startSimBackends } from '../../src/sim/backends';
import { startPrivateRedis, type PrivateRedis } from '../support/redis-server';

let redis: PrivateRedis;
beforeAll(async () => {
  redis = await startPrivateRedis();
});
afterAll(async () => {
  await redis.stop();
});

test('no etcd, java or redis-server on the PATH: the lock strategies are skipped, each saying which package', async () => {
  const backends = await startSimBackends({ PATH: '/nonexistent', REDIS_URL: redis.url }, [
    'etcd-lock',
    'zk-lock',
    'redlock',
  ]);
  try {
    expect(backends.skipped).toEqual({
      'etcd-lock': expect.stringContaining('apt-get install -y etcd-server'),
      'zk-lock': expect.stringContaining('apt-get install -y zookeeper'),
      redlock: expect.stringContaining('apt-get install -y redis-server'),
    });
    expect(backends.env).not.toHaveProperty('ETCD_ENDPOINTS');
  } finally {
    await backends.stop();
  }
});

test('with the programs installed: a private etcd, ZooKeeper and three Redlock servers, stopped at the end', async () => {
  const backends = await startSimBackends({ PATH: process.env.PATH, REDIS_URL: redis.url }, [
    'etcd-lock',
    'zk-lock',
    'redlock',
    'db-lock',
  ]);
  let etcd: Etcd3 | undefined;
  try {
    expect(backends.skipped).toEqual({});
    expect(backends.env.REDLOCK_URLS.split(',')).toHaveLength(3);
    expect(backends.env.ZOOKEEPER_CONNECT).toMatch(/^127\.0\.0\.1:\d+$/);
    etcd = new Etcd3({ hosts: backends.env.ETCD_ENDPOINTS });
    await etcd.put('sim-check').value('1');
    expect(await etcd.get('sim-check').string()).toBe('1');
  } finally {
    etcd?.close();
    await backends.stop();
  }
  const afterStop = new Etcd3({ hosts: backends.env.ETCD_ENDPOINTS, dialTimeout: 500 });
  await expect(afterStop.get('sim-check').string()).rejects.toThrow(); // the private etcd is gone
  afterStop.close();
}, 60_000);
