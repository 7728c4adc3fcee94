// Private servers on free loopback ports, from the binaries Debian's etcd-server, zookeeper and redis-server packages
// install: the simulator's embedded defaults for etcd-lock, zk-lock, redlock and its Redis, and the tests' servers. Each keeps its data in a
// temporary folder, so a kill (-9) and restart on the same port comes back with its data, as a real restart does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../infra/net';
import { outputOf, recordOutput } from '../infra/output-tails';

export interface LockServer {
  /** etcd: http://127.0.0.1:<port>; ZooKeeper: 127.0.0.1:<port>; Redis: redis://127.0.0.1:<port> */
  address: string;
  port: number;
  pid(): number | undefined;
  /** kill -9: the server dies without a goodbye. */
  kill(): Promise<void>;
  /** The same server again: same port, same data. */
  restart(): Promise<void>;
  /** Killed, and its data removed. */
  stop(): Promise<void>;
}

const ETCD = 'etcd';
const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
const READY_TIMEOUT_MS = 30_000;

/** Why a private server cannot be started here (programs looked up on env's PATH), with what to do about it. */
export function missingEtcd(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!spawnSync(ETCD, ['--version'], { env }).error) return undefined;
  return 'no etcd: ETCD_ENDPOINTS is unset and the etcd binary is missing (Debian: apt-get install -y etcd-server)';
}

export function missingZookeeper(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (existsSync(ZOOKEEPER_JAR) && !spawnSync('java', ['-version'], { env }).error) return undefined;
  return `no ZooKeeper: ZOOKEEPER_CONNECT is unset and ${ZOOKEEPER_JAR} or java is missing (Debian: apt-get install -y zookeeper)`;
}

export async function startEtcd(): Promise<LockServer> {
  const [port, peerPort] = [await freePort(), await freePort()];
  const peer = `http://127.0.0.1:${peerPort}`;
  const client = `http://127.0.0.1:${port}`;
  return startServer('etcd', client, port, (dataDir) => ({
    command: ETCD,
    args: [
      ['--name', 'seckill'],
      ['--data-dir', dataDir],
      ['--listen-client-urls', client],
      ['--advertise-client-urls', client],
      ['--listen-peer-urls', peer],
      ['--initial-advertise-peer-urls', peer],
      ['--initial-cluster', `seckill=${peer}`],
      ['--log-level', 'error'],
    ].flat(),
  }));
}

/** A redis-server keeping nothing on disk: a restart comes back empty, as a crashed cache without persistence does. */
export async function startRedisServer(): Promise<LockServer> {
  const port = await freePort();
  return startServer('redis', `redis://127.0.0.1:${port}`, port, () => ({
    command: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  }));
}

export async function startZookeeper(): Promise<LockServer> {
  const port = await freePort();
  return startServer('zookeeper', `127.0.0.1:${port}`, port, (dataDir) => {
    const config = join(dataDir, 'zoo.cfg');
    // Short ticks so that sessions of a second or two are allowed; no admin web server (it would take :8080).
    writeFileSync(
      config,
      [
        'tickTime=200',
        'minSessionTimeout=1000',
        'maxSessionTimeout=60000',
        `dataDir=${join(dataDir, 'data')}`,
        `clientPort=${port}`,
        'clientPortAddress=127.0.0.1',
        'admin.enableServer=false',
      ].join('\n'),
    );
    return {
      command: 'java',
      args: [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-cp',
        ZOOKEEPER_JAR,
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        config,
      ],
    };
  });
}

async function startServer(
  name: string,
  address: string,
  port: number,
  launch: (dataDir: string) => { command: string; args: string[] },
): Promise<LockServer> {
  const dataDir = mkdtempSync(join(tmpdir(), `seckill-${name}-`));
  const { command, args } = launch(dataDir);
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => recordOutput(name, chunk.toString()));
    const exited = once(child, 'exit').then(() => false);
    if (!(await Promise.race([waitForPort(port, READY_TIMEOUT_MS), exited]))) {
      await kill();
      throw new Error(`${name} did not start on port ${port}: ${outputOf(name).slice(-2000)}`);
    }
  };
  const kill = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exit = once(child, 'exit');
    child.kill('SIGKILL');
    await exit;
  };
  try {
    await start();
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    address,
    port,
    pid: () => child?.pid,
    kill,
    restart: start,
    async stop() {
      await kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
