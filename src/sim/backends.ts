// What the simulator runs against: the configured services where they are configured and reachable, embedded
// defaults otherwise (a private redis-server, PGlite for PostgreSQL, the embedded Kafka broker; for the lock
// strategies a private etcd, ZooKeeper and three redis-servers). Says which ran, and which strategies cannot run here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../infra/embedded-postgres';
import { applyMigrations } from '../infra/migrations';
import type { StrategyName } from '../config';
import { reachable } from '../infra/net';
import {
  missingEtcd,
  missingZookeeper,
  startEtcd,
  startRedisServer,
  startZookeeper,
  type LockServer,
} from './lock-servers';
import { startPostgresHa, type PostgresHa, type ReplicationMode } from './postgres-ha';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres';
import { startLocalRedisCluster } from './redis-cluster';

export interface SimBackends {
  env: Record<string, string>;
  describe: { redis: string; postgres: string; kafka: string; locks?: string; api?: string };
  /** Strategies that cannot run here, each with why and how to get what it needs. */
  skipped: Partial<Record<StrategyName, string>>;
  /** The servers this run started itself (chaos mode kills and restarts them; configured ones are left alone). */
  servers: PrivateServers;
  stop(): Promise<void>;
}

export interface PrivateServers {
  redis?: LockServer;
  postgres?: PrivatePostgres;
  /** The Patroni cluster of --postgres-ha (postgres-failover and postgres-node-crash hit it). */
  postgresHa?: PostgresHa;
  etcd?: LockServer;
  zookeeper?: LockServer;
  redlock?: LockServer[];
  /** Chaos mode asked for a private PostgreSQL cluster and this is why there is none. */
  postgresUnavailable?: string;
}

export interface BackendChoices {
  /**
   * Chaos mode: a PostgreSQL cluster of the run's own instead of a database on the machine's server, so that the
   * restart fault hits only the simulator. Falls back to the machine's server (the fault is then skipped).
   */
  privatePostgres?: boolean;
  /** Masters of a private Redis Cluster (each with one replica) to run the sale on, instead of one Redis. */
  redisClusterMasters?: number;
  /** A private Patroni cluster (three nodes behind HAProxy) instead of one PostgreSQL, even if DATABASE_URL is set. */
  postgresHa?: ReplicationMode;
}

/** Three servers: the smallest set where a majority survives one loss. */
const REDLOCK_SERVERS = 3;

export class MissingBackendError extends Error {}

const LOCAL_POSTGRES = 'postgresql://postgres@127.0.0.1:5432';

async function urlReachable(url: string): Promise<boolean> {
  const parsed = new URL(url);
  return reachable(parsed.hostname, Number(parsed.port || (parsed.protocol === 'redis:' ? 6379 : 5432)));
}

/** A redis-server of our own, on a free port, keeping nothing on disk. */
async function startPrivateRedis(): Promise<LockServer> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new MissingBackendError(
      'no Redis: REDIS_URL is unset or unreachable and redis-server is not installed. ' +
        'Install it (Debian: apt-get install -y redis-server) or set REDIS_URL to a reachable Redis.',
    );
  }
  return startRedisServer();
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const admin = new Client({ connectionString: `${serverUrl}/postgres` });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export async function startSimBackends(
  env: NodeJS.ProcessEnv,
  strategies: readonly StrategyName[] = [],
  choices: BackendChoices = {},
): Promise<SimBackends> {
  const stops: (() => Promise<void> | void)[] = [];
  const result: SimBackends = {
    env: {},
    describe: { redis: '', postgres: '', kafka: '' },
    skipped: {},
    servers: {},
    async stop() {
      for (const stop of stops.reverse()) await stop();
    },
  };
  let embeddedPostgres = false;
  try {
    const { redisClusterMasters } = choices;
    if (redisClusterMasters) {
      const cluster = await startLocalRedisCluster({ masters: redisClusterMasters });
      stops.push(() => cluster.stop());
      result.env.REDIS_CLUSTER_NODES = cluster.nodes.join(',');
      result.describe.redis = `private Redis Cluster, ${redisClusterMasters} masters + ${redisClusterMasters} replicas (${cluster.nodes.join(',')})`;
    } else if (env.REDIS_URL && (await urlReachable(env.REDIS_URL))) {
      result.env.REDIS_URL = env.REDIS_URL;
      result.describe.redis = `configured ${env.REDIS_URL}`;
    } else {
      const redis = await startPrivateRedis();
      stops.push(() => redis.stop());
      result.servers.redis = redis;
      result.env.REDIS_URL = redis.address;
      result.describe.redis = `private redis-server ${redis.address}${env.REDIS_URL ? ' (REDIS_URL unreachable)' : ''}`;
    }

    if (choices.postgresHa) {
      const cluster = await startPostgresHa(choices.postgresHa);
      stops.push(() => cluster.stop());
      result.servers.postgresHa = cluster;
      result.env.DATABASE_URL = `${cluster.url}/seckill_sim`;
      await applyMigrations(result.env.DATABASE_URL);
      result.describe.postgres = `private Patroni cluster, 3 nodes, ${
        choices.postgresHa === 'sync' ? 'synchronous (strict)' : 'ASYNCHRONOUS'
      } replication, behind HAProxy ${cluster.url}`;
    } else if (env.DATABASE_URL && (await urlReachable(env.DATABASE_URL))) {
      await applyMigrations(env.DATABASE_URL);
      result.env.DATABASE_URL = env.DATABASE_URL;
      result.describe.postgres = `configured ${new URL(env.DATABASE_URL).host}`;
    } else if (!env.DATABASE_URL && choices.privatePostgres && (await tryPrivatePostgres(result, stops))) {
      result.describe.postgres = `private PostgreSQL cluster ${result.servers.postgres!.url}`;
    } else if (!env.DATABASE_URL && (await urlReachable(LOCAL_POSTGRES))) {
      // A database of this run's own: reports never mix with earlier runs, and runs side by side do not clash.
      const name = `seckill_sim_${process.pid}`;
      await dropDatabase(LOCAL_POSTGRES, name);
      stops.push(() => dropDatabase(LOCAL_POSTGRES, name));
      result.env.DATABASE_URL = `${LOCAL_POSTGRES}/${name}`;
      await applyMigrations(result.env.DATABASE_URL);
      result.describe.postgres = `PostgreSQL on 127.0.0.1:5432 (fresh database ${name})`;
    } else {
      const embedded = await startEmbeddedPostgres();
      stops.push(() => embedded.stop());
      await applyMigrations(embedded.url);
      result.env.DATABASE_URL = embedded.url;
      // pglite-socket multiplexes every connection onto one PGlite session, so concurrent extended-protocol
      // queries from two connections clash ("portal does not exist"): one connection only.
      result.env.DATABASE_POOL_SIZE = '1';
      embeddedPostgres = true;
      result.describe.postgres =
        'PGlite (embedded, in memory, one transaction at a time: not for throughput)';
    }

    if (env.KAFKA_BROKERS) {
      result.env.KAFKA_BROKERS = env.KAFKA_BROKERS;
      result.describe.kafka = `configured ${env.KAFKA_BROKERS}`;
    } else {
      const dataDir = mkdtempSync(join(tmpdir(), 'seckill-sim-kafka-'));
      stops.push(() => rmSync(dataDir, { recursive: true, force: true }));
      result.env.KAFKA_DATA_DIR = dataDir;
      result.describe.kafka = 'embedded Kafka-protocol broker (kafkajs over TCP)';
    }
    await pickLockBackends(env, new Set(strategies), embeddedPostgres, result, stops);
    return result;
  } catch (err) {
    await result.stop();
    throw err;
  }
}

/** Starts the private cluster with a database of the run's own; false (nothing started) when it cannot start here. */
async function tryPrivatePostgres(
  result: SimBackends,
  stops: (() => Promise<void> | void)[],
): Promise<boolean> {
  const postgres = await startPrivatePostgres().catch((err: Error) => {
    result.servers.postgresUnavailable = err.message;
    return undefined;
  });
  if (!postgres) return false;
  stops.push(() => postgres.stop());
  result.servers.postgres = postgres;
  result.env.DATABASE_URL = `${postgres.url}/seckill_sim`;
  await applyMigrations(result.env.DATABASE_URL);
  return true;
}

/** Lock services of the lock strategies asked for: configured and reachable, else private ones, else skipped. */
async function pickLockBackends(
  env: NodeJS.ProcessEnv,
  wanted: ReadonlySet<StrategyName>,
  embeddedPostgres: boolean,
  result: SimBackends,
  stops: (() => Promise<void> | void)[],
): Promise<void> {
  const described: string[] = [];
  const privateServer = async (start: () => Promise<LockServer>, name: 'etcd' | 'zookeeper') => {
    const server = await start();
    stops.push(() => server.stop());
    result.servers[name] = server;
    return server.address;
  };
  if (wanted.has('etcd-lock')) {
    const configured = await firstReachable(env.ETCD_ENDPOINTS);
    const missing = configured ? undefined : missingEtcd(env);
    if (missing) result.skipped['etcd-lock'] = missing;
    else {
      result.env.ETCD_ENDPOINTS = configured ?? (await privateServer(startEtcd, 'etcd'));
      described.push(`etcd ${configured ? 'configured' : 'private'} ${result.env.ETCD_ENDPOINTS}`);
    }
  }
  if (wanted.has('zk-lock')) {
    const configured = await firstReachable(env.ZOOKEEPER_CONNECT, 'tcp:');
    const missing = configured ? undefined : missingZookeeper(env);
    if (missing) result.skipped['zk-lock'] = missing;
    else {
      result.env.ZOOKEEPER_CONNECT = configured
        ? env.ZOOKEEPER_CONNECT!
        : await privateServer(startZookeeper, 'zookeeper');
      described.push(`ZooKeeper ${configured ? 'configured' : 'private'} ${result.env.ZOOKEEPER_CONNECT}`);
    }
  }
  if (wanted.has('redlock')) {
    if (env.REDLOCK_URLS) {
      result.env.REDLOCK_URLS = env.REDLOCK_URLS;
      described.push(`Redlock configured ${env.REDLOCK_URLS}`);
    } else if (spawnSync('redis-server', ['--version'], { env }).error) {
      result.skipped.redlock =
        'no Redlock servers: REDLOCK_URLS is unset and redis-server is missing (Debian: apt-get install -y redis-server)';
    } else {
      const urls: string[] = [];
      for (let i = 0; i < REDLOCK_SERVERS; i++) {
        const redis = await startPrivateRedis();
        stops.push(() => redis.stop());
        urls.push(redis.address);
        (result.servers.redlock ??= []).push(redis);
      }
      result.env.REDLOCK_URLS = urls.join(',');
      described.push(`Redlock over ${REDLOCK_SERVERS} private redis-servers`);
    }
  }
  if (wanted.has('db-lock') && embeddedPostgres) {
    result.skipped['db-lock'] =
      'db-lock needs PostgreSQL (PGlite runs one session at a time, and a row lock needs two): set DATABASE_URL or run PostgreSQL on 127.0.0.1:5432';
  }
  if (described.length) result.describe.locks = described.join(', ');
}

/** The configured address list if its first entry answers (etcd URLs, or ZooKeeper host:port pairs). */
async function firstReachable(list: string | undefined, scheme?: string): Promise<string | undefined> {
  const first = list?.split(',')[0]?.trim();
  if (!first) return undefined;
  const url = new URL(scheme ? `${scheme}//${first}` : first);
  return (await reachable(url.hostname, Number(url.port))) ? list : undefined;
}
