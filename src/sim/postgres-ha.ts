// A high-availability PostgreSQL of the simulator's own, as Patroni's docs deploy one: three Patroni nodes (a
// primary and two standbys, PostgreSQL 15 from Debian) keeping their leader key in a private etcd, and HAProxy in
// front routing to whichever node Patroni's REST API says is the primary. Free loopback ports, data under a
// temporary folder, run as the postgres user when root (initdb refuses root).
//
// `sync`: Patroni's synchronous mode, strict, with synchronous_commit on: a COMMIT returns once a standby has its WAL,
// so the standby Patroni promotes holds every COMMIT a client saw succeed. `async` (Patroni's default) is the
// teaching case: a COMMIT returns once the primary alone has it, and a failover loses what the standbys had not yet
// received.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../infra/net';
import { outputOf, recordOutput } from '../infra/output-tails';
import { runHaproxy } from './haproxy';
import { startEtcd } from './lock-servers';
import {
  childPids,
  missingPrivatePostgres,
  POSTGRES_BIN,
  postgresUid,
  postmasterPid,
} from './private-postgres';

export type ReplicationMode = 'sync' | 'async';

export interface PatroniNode {
  name: string;
  /** PostgreSQL's port on 127.0.0.1. */
  port: number;
  /** Patroni's REST API: http://127.0.0.1:<port> */
  restUrl: string;
  /** Patroni and PostgreSQL's processes of this node (postmaster, backends, background workers). */
  pids(): number[];
  /**
   * kill -9 of this node's PostgreSQL, the postmaster and every process it forked at once (backends, WAL senders),
   * as a crash takes them: none lives on to answer or to stream what it had. Patroni lives on and sees it die.
   */
  killPostgres(): void;
  /** kill -9 of Patroni and its PostgreSQL at once: the node is gone, as in a machine crash. */
  crash(): Promise<void>;
  /** Patroni started again on the same data (after crash): it rejoins, rewound, as a standby if another leads. */
  start(): Promise<void>;
}

export interface PostgresHa {
  mode: ReplicationMode;
  /** HAProxy's address, without a database name: postgresql://postgres@127.0.0.1:<port> */
  url: string;
  nodes: PatroniNode[];
  /** The node whose REST API answers 200 on /primary, asked again until one does (a loaded machine answers late). */
  primary(timeoutMs?: number): Promise<PatroniNode>;
  /** Waits until a node other than `not` leads and takes writes through HAProxy. */
  waitForPrimary(options?: { not?: string; timeoutMs?: number }): Promise<PatroniNode>;
  /** Waits until `name` runs as a standby of another leader (rewound, streaming), as after a failover it should. */
  waitForStandby(name: string, timeoutMs?: number): Promise<void>;
  /** Every member as Patroni's /cluster lists it: name, role (leader, sync_standby, replica) and state. */
  members(): Promise<Member[]>;
  /** Every process of the cluster: Patroni, PostgreSQL, etcd, HAProxy (CPU measurements read them). */
  pids(): number[];
  stop(): Promise<void>;
}

const PATRONI = 'patroni';
const NODES = 3;
const SCOPE = 'seckill';
const READY_TIMEOUT_MS = 90_000;

/** Why no Patroni cluster can be started here, with what to install; undefined when one can. */
export function missingPostgresHa(): string | undefined {
  const missing = [
    spawnSync(PATRONI, ['--version']).error ? 'patroni' : undefined,
    spawnSync('etcd', ['--version']).error ? 'etcd-server' : undefined,
    spawnSync('haproxy', ['-v']).error ? 'haproxy' : undefined,
  ].filter(Boolean);
  if (missing.length)
    return `missing ${missing.join(', ')} (Debian: apt-get install -y ${missing.join(' ')})`;
  return missingPrivatePostgres();
}

/**
 * Settings that decide whether a failover happens at all, measured on this machine:
 * - primary_start_timeout 0: a primary whose postmaster died is failed over at once; otherwise Patroni restarts it
 *   in place and promotes nobody.
 * - use_pg_rewind (with wal_log_hints): the old primary, ahead of the others under load, is rewound and rejoins as a
 *   standby; without it it never rejoins, and strict mode then has no standby left to write with.
 * - ttl 10 / loop_wait 1 / retry_timeout 3: a node that vanished whole loses the leader key within ~10 s.
 */
function dcsSettings(mode: ReplicationMode) {
  return {
    ttl: 10,
    loop_wait: 1,
    retry_timeout: 3,
    maximum_lag_on_failover: 1048576,
    synchronous_mode: mode === 'sync',
    synchronous_mode_strict: mode === 'sync',
    primary_start_timeout: 0,
    postgresql: {
      use_pg_rewind: true,
      use_slots: true,
      parameters: {
        synchronous_commit: 'on',
        wal_log_hints: 'on',
        max_connections: 200,
        // Durability as in production: fsync stays on (its default).
      },
    },
  };
}

function patroniConfig(
  name: string,
  dir: string,
  ports: { pg: number; rest: number },
  etcd: string,
  mode: ReplicationMode,
) {
  const postgres = { username: 'postgres' };
  return {
    scope: SCOPE,
    name,
    log: { level: 'WARNING' },
    restapi: { listen: `127.0.0.1:${ports.rest}`, connect_address: `127.0.0.1:${ports.rest}` },
    etcd3: { hosts: etcd.replace('http://', '') },
    bootstrap: {
      dcs: dcsSettings(mode),
      initdb: [{ encoding: 'UTF8' }, { auth: 'trust' }],
      // Trust on loopback only: nothing of the cluster listens beyond 127.0.0.1.
      pg_hba: ['host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'],
    },
    postgresql: {
      listen: `127.0.0.1:${ports.pg}`,
      connect_address: `127.0.0.1:${ports.pg}`,
      data_dir: join(dir, 'data'),
      bin_dir: POSTGRES_BIN,
      pgpass: join(dir, 'pgpass'),
      authentication: { superuser: postgres, replication: postgres, rewind: postgres },
      parameters: { unix_socket_directories: dir },
      // A standby clones the primary at once, not after a spread checkpoint (minutes with dirty buffers).
      basebackup: [{ checkpoint: 'fast' }],
    },
  };
}

/**
 * Patroni's HAProxy recipe, with checks fast enough to see a switch within a second: a node is in the rotation
 * while its REST API answers 200 on /primary, and the sessions of a node that leaves it are cut
 * (shutdown-sessions), so that no client keeps writing to, or waiting on, a primary that is no more.
 */
function haproxyConfig(port: number, nodes: { port: number; restPort: number }[]): string[] {
  return [
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 30m',
    '  timeout server 30m',
    '  timeout check 2s',
    'listen primary',
    `  bind 127.0.0.1:${port}`,
    '  option httpchk GET /primary',
    '  http-check expect status 200',
    '  default-server inter 300ms fall 2 rise 1 on-marked-down shutdown-sessions',
    ...nodes.map((node, i) => `  server pg${i + 1} 127.0.0.1:${node.port} check port ${node.restPort}`),
  ];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function restStatus(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return undefined;
  }
}

/** The port of the PostgreSQL that HAProxy leads a new connection to, if that one takes writes. */
async function writablePort(url: string): Promise<number | undefined> {
  const client = new Client({ connectionString: `${url}/postgres`, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ port: number; standby: boolean }>(
      'SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby',
    );
    return rows[0].standby ? undefined : rows[0].port;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startPostgresHa(mode: ReplicationMode): Promise<PostgresHa> {
  const missing = missingPostgresHa();
  if (missing) throw new Error(`no Patroni cluster: ${missing}`);
  const owner = process.getuid?.() === 0 ? postgresUid() : undefined;
  const root = mkdtempSync(join(tmpdir(), 'seckill-patroni-'));
  if (owner) chownSync(root, owner.uid, owner.gid);
  const stops: (() => Promise<void>)[] = [async () => rmSync(root, { recursive: true, force: true })];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
  };
  try {
    const etcd = await startEtcd();
    stops.push(() => etcd.stop());
    const nodes: (PatroniNode & { stop(): Promise<void> })[] = [];
    for (let i = 1; i <= NODES; i++) {
      const ports: [number, number] = [await freePort(), await freePort()];
      const node = await patroniNode(`pg${i}`, root, owner, etcd.address, mode, ports);
      nodes.push(node);
      stops.push(() => node.stop());
    }
    const port = await freePort();
    const haproxy = await runHaproxy(
      'haproxy-postgres',
      port,
      haproxyConfig(
        port,
        nodes.map((node) => ({ port: node.port, restPort: Number(new URL(node.restUrl).port) })),
      ),
    );
    stops.push(() => haproxy.stop());
    const cluster = clusterOf(
      mode,
      `postgresql://postgres@127.0.0.1:${port}`,
      nodes,
      () => [etcd.pid(), haproxy.pid],
      stopAll,
    );
    await cluster.waitForPrimary({ timeoutMs: READY_TIMEOUT_MS });
    await waitForStandbys(cluster, mode);
    return cluster;
  } catch (err) {
    const tails = ['pg1', 'pg2', 'pg3'].map((name) => outputOf(`patroni-${name}`).slice(-800)).join('\n');
    await stopAll();
    throw new Error(`Patroni cluster did not start: ${(err as Error).message}\n${tails}`, { cause: err });
  }
}

/** Until both standbys stream (and, in sync mode, one is the synchronous standby that COMMITs wait for). */
async function waitForStandbys(cluster: PostgresHa, mode: ReplicationMode): Promise<void> {
  await pollUntil(
    `both standbys streaming${mode === 'sync' ? ', one synchronous' : ''}`,
    READY_TIMEOUT_MS,
    async () => {
      const members = await cluster.members();
      const sync = members.some((m) => m.role === 'sync_standby');
      return members.filter(isStreamingStandby).length === NODES - 1 && (mode === 'async' || sync);
    },
  );
}

type Member = { name: string; role: string; state: string };

const isStreamingStandby = (member: Member) =>
  member.role !== 'leader' && ['running', 'streaming'].includes(member.state);

/** Asks `check` every 100 ms until it gives a value (true, a node); throws, naming what was awaited, at the deadline. */
async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | false | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

function clusterOf(
  mode: ReplicationMode,
  url: string,
  nodes: PatroniNode[],
  helperPids: () => (number | undefined)[],
  stop: () => Promise<void>,
): PostgresHa {
  // Every node's REST API asked at once: on a loaded machine one of them may be slow to answer.
  const leaderNow = async () => {
    const answers = await Promise.all(nodes.map((node) => restStatus(`${node.restUrl}/primary`)));
    return nodes.find((_, i) => answers[i] === 200);
  };
  const members = async () => {
    for (const node of nodes) {
      try {
        const res = await fetch(`${node.restUrl}/cluster`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { members: Member[] };
        return body.members.map(({ name, role, state }) => ({ name, role, state }));
      } catch {
        // this node is down: ask the next
      }
    }
    return [];
  };
  return {
    mode,
    url,
    nodes,
    members,
    waitForPrimary: ({ not, timeoutMs = 60_000 } = {}) =>
      pollUntil(`primary${not ? ` other than ${not}` : ''}`, timeoutMs, async () => {
        const node = await leaderNow();
        return node && node.name !== not && (await writablePort(url)) === node.port ? node : undefined;
      }),
    primary: (timeoutMs = 20_000) => pollUntil('node answering as the primary', timeoutMs, leaderNow),
    async waitForStandby(name, timeoutMs = 60_000) {
      await pollUntil(`${name} streaming as a standby`, timeoutMs, async () => {
        const member = (await members()).find((m) => m.name === name);
        return member && isStreamingStandby(member);
      });
    },
    pids: () =>
      [...nodes.flatMap((node) => node.pids()), ...helperPids()].filter(
        (pid): pid is number => pid !== undefined,
      ),
    stop,
  };
}

function killEach(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function patroniNode(
  name: string,
  root: string,
  owner: { uid: number; gid: number } | undefined,
  etcd: string,
  mode: ReplicationMode,
  [pgPort, restPort]: [number, number],
): Promise<PatroniNode & { stop(): Promise<void> }> {
  const dir = join(root, name);
  mkdirSync(dir, { mode: 0o700 });
  const config = join(dir, 'patroni.yml');
  // YAML is a superset of JSON: no YAML writer needed.
  writeFileSync(config, JSON.stringify(patroniConfig(name, dir, { pg: pgPort, rest: restPort }, etcd, mode)));
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(config, owner.uid, owner.gid);
  }
  const data = join(dir, 'data');
  let patroni: ChildProcess | undefined;
  const alive = () => patroni && patroni.exitCode === null && patroni.signalCode === null;
  const postmasterAndChildren = () => {
    const postmaster = postmasterPid(data);
    return postmaster === undefined ? [] : [postmaster, ...childPids(postmaster)];
  };
  const killAll = async () => {
    if (alive()) {
      const exit = once(patroni!, 'exit');
      patroni!.kill('SIGKILL');
      await exit;
    }
    killEach(postmasterAndChildren());
  };
  const start = async () => {
    patroni = spawn(PATRONI, [config], {
      cwd: dir,
      uid: owner?.uid,
      gid: owner?.gid,
      env: { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const record = (chunk: Buffer) => recordOutput(`patroni-${name}`, chunk.toString());
    patroni.stdout!.on('data', record);
    patroni.stderr!.on('data', record);
  };
  await start();
  return {
    name,
    port: pgPort,
    restUrl: `http://127.0.0.1:${restPort}`,
    pids: () => [...(alive() ? [patroni!.pid!] : []), ...postmasterAndChildren()],
    killPostgres() {
      const pids = postmasterAndChildren();
      if (!pids.length) throw new Error(`${name}: PostgreSQL is not running`);
      killEach(pids);
    },
    crash: killAll,
    start,
    stop: killAll,
  };
}
