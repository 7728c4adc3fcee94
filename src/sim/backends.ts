// What the simulator runs against: the configured services where they are configured and reachable, embedded
// defaults otherwise (a private redis-server, PGlite for PostgreSQL, the embedded Kafka broker). Says which ran.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../infra/embedded-postgres';
import { applyMigrations } from '../infra/migrations';
import { freePort } from '../infra/free-port';

export interface SimBackends {
  env: Record<string, string>;
  describe: { redis: string; postgres: string; kafka: string };
  stop(): Promise<void>;
}

export class MissingBackendError extends Error {}

const LOCAL_POSTGRES = 'postgresql://postgres@127.0.0.1:5432';

function reachable(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

async function urlReachable(url: string): Promise<boolean> {
  const parsed = new URL(url);
  return reachable(parsed.hostname, Number(parsed.port || (parsed.protocol === 'redis:' ? 6379 : 5432)));
}

/** A redis-server of our own, on a free port, keeping nothing on disk. */
async function startPrivateRedis(): Promise<{ url: string; process: ChildProcess }> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new MissingBackendError(
      'no Redis: REDIS_URL is unset or unreachable and redis-server is not installed. ' +
        'Install it (Debian: apt-get install -y redis-server) or set REDIS_URL to a reachable Redis.',
    );
  }
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  for (let i = 0; i < 100 && !(await reachable('127.0.0.1', port)); i++)
    await new Promise((r) => setTimeout(r, 50));
  return { url: `redis://127.0.0.1:${port}`, process: child };
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
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

export async function startSimBackends(env: NodeJS.ProcessEnv): Promise<SimBackends> {
  const stops: (() => Promise<void> | void)[] = [];
  const result: SimBackends = {
    env: {},
    describe: { redis: '', postgres: '', kafka: '' },
    async stop() {
      for (const stop of stops.reverse()) await stop();
    },
  };
  try {
    if (env.REDIS_URL && (await urlReachable(env.REDIS_URL))) {
      result.env.REDIS_URL = env.REDIS_URL;
      result.describe.redis = `configured ${env.REDIS_URL}`;
    } else {
      const redis = await startPrivateRedis();
      stops.push(() => stopProcess(redis.process));
      result.env.REDIS_URL = redis.url;
      result.describe.redis = `private redis-server ${redis.url}${env.REDIS_URL ? ' (REDIS_URL unreachable)' : ''}`;
    }

    if (env.DATABASE_URL && (await urlReachable(env.DATABASE_URL))) {
      await applyMigrations(env.DATABASE_URL);
      result.env.DATABASE_URL = env.DATABASE_URL;
      result.describe.postgres = `configured ${new URL(env.DATABASE_URL).host}`;
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
    return result;
  } catch (err) {
    await result.stop();
    throw err;
  }
}
