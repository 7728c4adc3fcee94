// A private Redis Cluster on free loopback ports: `masters` redis-server processes in cluster mode, each with one
// replica, joined by `redis-cli --cluster create`. The simulator runs a sale on it (--redis-cluster) and the tests
// kill its masters for real; cluster-node-timeout is short so a replica takes over within seconds.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from '../infra/net';

const run = promisify(execFile);

export interface LocalRedisCluster {
  /** host:port of every node: the REDIS_CLUSTER_NODES of the service. */
  nodes: string[];
  /** kill -9 of one current master; returns its host:port. */
  killMaster(): Promise<string>;
  /** Resolves once every live node reports cluster_state:ok and every slot has a live master. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalRedisClusterOptions {
  masters?: number;
  /** How long a silent master has before its replica is promoted. */
  nodeTimeoutMs?: number;
}

const cli = (port: number, ...args: string[]) =>
  run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' }).then(
    (r) => r.stdout,
  );

export async function startLocalRedisCluster(
  options: LocalRedisClusterOptions = {},
): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'seckill-redis-cluster-'));
  const ports: number[] = [];
  for (let i = 0; i < masters * 2; i++) ports.push(await freePort());
  const children = new Map<number, ChildProcess>();
  const stopAll = async () => {
    await Promise.all(
      [...children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        await once(child, 'exit');
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
          ...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)],
          ...['--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2000)],
          // A replica is promoted however long it was out of touch: the stale-counter case is the ledger's to fix.
          ...['--cluster-replica-validity-factor', '0', '--dir', dir],
        ],
        { stdio: 'ignore' },
      );
      children.set(port, child);
      if (!(await waitForPort(port, 10_000))) throw new Error(`redis-server on ${port} did not start`);
    }
    const nodes = ports.map((port) => `127.0.0.1:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '1', '--cluster-yes'], {
      encoding: 'utf8',
    });

    const live = () =>
      ports.filter((port) => children.get(port)!.exitCode === null && !children.get(port)!.signalCode);
    /** CLUSTER NODES as one live node sees it: the port of every master holding slots, not flagged failed. */
    const livingMasters = async () => {
      const table = await cli(live()[0], 'cluster', 'nodes');
      return table
        .split('\n')
        .map((line) => line.split(' '))
        .filter(([, , flags, , , , , , slots]) => {
          const set = flags?.split(',') ?? [];
          return set.includes('master') && !set.some((f) => f.startsWith('fail')) && slots !== undefined;
        })
        .map(([, address]) => Number(address.split('@')[0].split(':')[1]));
    };
    /** Replicas whose link to their master is up (a kill before they synced would lose the slots). */
    const syncedReplicas = async () => {
      const infos = await Promise.all(live().map((port) => cli(port, 'info', 'replication').catch(() => '')));
      return infos.filter((info) => info.includes('master_link_status:up')).length;
    };
    const waitHealthy = async (timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const states = await Promise.all(live().map((port) => cli(port, 'cluster', 'info').catch(() => '')));
        const ok = states.every((info) => info.includes('cluster_state:ok'));
        if (ok && (await livingMasters()).length === masters) return;
        if (Date.now() > deadline) throw new Error(`the local Redis Cluster is not healthy: ${states[0]}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    await waitHealthy();
    const synced = Date.now() + 30_000;
    while ((await syncedReplicas()) < masters) {
      if (Date.now() > synced) throw new Error('the local Redis Cluster: replicas did not sync');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return {
      nodes,
      waitHealthy,
      async killMaster() {
        const [port] = await livingMasters();
        const child = children.get(port)!;
        child.kill('SIGKILL');
        await once(child, 'exit');
        return `127.0.0.1:${port}`;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
