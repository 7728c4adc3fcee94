// The nemesis's faults, each a small plug-in: whether it applies to a strategy on these backends, how to inject it,
// and how to heal it. inject returns its heal, so state of one injection (which process) stays with it. A fault
// whose target takes long to find (the primary, asked of a loaded cluster) aims first, before its time.
import Redis from 'ioredis';
import type { StrategyName } from '../../config';
import type { PrivateServers } from '../backends';
import type { LockServer } from '../lock-servers';
import type { ManagedProcess, ServiceProcesses } from '../service-processes';
import type { FaultTiming } from './schedule';

export interface ChaosTarget {
  strategy: StrategyName;
  processes: ServiceProcesses;
  servers: PrivateServers;
}

export type Heal = () => Promise<void>;
/** Injects the fault at a target already found, and returns its heal. */
export type Strike = () => Promise<Heal>;

export type Fault = FaultTiming & {
  /** undefined when the fault can be injected here; otherwise why not (shown in the matrix). */
  unavailable(target: Omit<ChaosTarget, 'processes'> & { brokerChild: boolean }): string | undefined;
} & (
    | {
        /** `pick` (from the schedule) chooses among several targets, e.g. which api process. */
        inject(target: ChaosTarget, pick: number): Promise<Heal>;
      }
    | {
        /**
         * Finds the target before the fault's time (the nemesis aims when no other fault is in place): Patroni's REST
         * API on a loaded machine answers in seconds, and a fault found at its time would land seconds late, after
         * the units it was meant to interrupt have sold.
         */
        aim(target: ChaosTarget): Promise<Strike>;
      }
  );

/** Longer than LOCK_TTL_MS (200) and LOCK_LEASE_MS (2000) as the sim runs them: a paused holder outlives its lock. */
const PAUSE_MS: readonly [number, number] = [2500, 4000];
const DOWN_MS: readonly [number, number] = [300, 2000];

const LOCK_SERVER_STRATEGIES: ReadonlySet<StrategyName> = new Set(['etcd-lock', 'zk-lock', 'redlock']);

function lockServersOf(target: Pick<ChaosTarget, 'strategy' | 'servers'>): LockServer[] {
  const { servers } = target;
  if (target.strategy === 'etcd-lock') return servers.etcd ? [servers.etcd] : [];
  if (target.strategy === 'zk-lock') return servers.zookeeper ? [servers.zookeeper] : [];
  if (target.strategy === 'redlock') return servers.redlock ?? [];
  return [];
}

/** Redis faults only hit the sim's own redis-server, never a configured one (FLUSHALL would wipe someone's data). */
const privateRedisOnly: Fault['unavailable'] = ({ servers }) =>
  servers.redis ? undefined : 'Redis is configured (REDIS_URL), not the sim’s own';

const patroniOnly: Fault['unavailable'] = ({ servers }) =>
  servers.postgresHa ? undefined : 'PostgreSQL is not a Patroni cluster (--postgres-ha)';

/** kill -9 of a service child, started again (same port, same data) when the fault heals. */
function killProcess(
  name: string,
  choose: (processes: ServiceProcesses, pick: number) => ManagedProcess,
  unavailable: Fault['unavailable'] = () => undefined,
): Fault {
  return {
    name,
    durationMs: DOWN_MS,
    unavailable,
    async inject({ processes }, pick) {
      const child = choose(processes, pick);
      await child.kill('SIGKILL');
      return () => child.start();
    },
  };
}

export const FAULTS: readonly Fault[] = [
  killProcess('api-kill', (processes, pick) => processes.apis[pick % processes.apis.length]),
  {
    name: 'api-pause',
    durationMs: PAUSE_MS,
    unavailable: () => undefined,
    async inject({ processes }, pick) {
      const api = processes.apis[pick % processes.apis.length];
      api.pause();
      return async () => api.resume();
    },
  },
  killProcess('relay-kill', (processes) => processes.relay),
  killProcess('consumer-kill', (processes) => processes.consumer),
  {
    name: 'redis-flush',
    durationMs: [0, 0],
    unavailable: privateRedisOnly,
    async inject({ servers }) {
      const redis = new Redis(servers.redis!.address, { maxRetriesPerRequest: 1 });
      try {
        await redis.flushall();
      } finally {
        redis.disconnect();
      }
      return async () => undefined;
    },
  },
  {
    name: 'redis-restart',
    durationMs: DOWN_MS,
    unavailable: privateRedisOnly,
    async inject({ servers }) {
      await servers.redis!.kill();
      return () => servers.redis!.restart(); // empty: the sim's redis-server keeps nothing on disk
    },
  },
  {
    name: 'postgres-restart',
    durationMs: [0, 0],
    unavailable: ({ servers }) =>
      servers.postgres
        ? undefined
        : `PostgreSQL is not the sim’s own cluster${servers.postgresUnavailable ? `: ${servers.postgresUnavailable}` : ' (DATABASE_URL is set)'}`,
    async inject({ servers }) {
      await servers.postgres!.restart();
      return async () => undefined;
    },
  },
  {
    name: 'postgres-failover',
    durationMs: [0, 0],
    unavailable: patroniOnly,
    async aim({ servers }) {
      // Patroni sees its PostgreSQL die and, with primary_start_timeout 0, hands the leader key to the synchronous
      // standby; it then rewinds the old node and starts it again as a standby, which the heal waits for.
      const primary = await servers.postgresHa!.primary();
      return async () => {
        primary.killPostgres();
        return () => servers.postgresHa!.waitForStandby(primary.name);
      };
    },
  },
  {
    name: 'postgres-node-crash',
    // Down past Patroni's ttl (10 s): the leader key expires and a standby is promoted, rather than the node coming
    // back in time to lead again.
    durationMs: [12_000, 14_000],
    unavailable: patroniOnly,
    async aim({ servers }) {
      const primary = await servers.postgresHa!.primary();
      return async () => {
        await primary.crash();
        return async () => {
          await primary.start();
          await servers.postgresHa!.waitForStandby(primary.name);
        };
      };
    },
  },
  killProcess(
    'broker-restart',
    (processes) => processes.broker!,
    ({ brokerChild }) => (brokerChild ? undefined : 'Kafka is configured (KAFKA_BROKERS)'),
  ),
  {
    name: 'lock-server-restart',
    durationMs: DOWN_MS,
    unavailable: (target) => {
      if (target.strategy === 'db-lock') return 'db-lock’s lock server is PostgreSQL: see postgres-restart';
      if (!LOCK_SERVER_STRATEGIES.has(target.strategy)) return 'no lock server';
      return lockServersOf(target).length ? undefined : 'the lock servers are configured, not the sim’s own';
    },
    async inject(target) {
      const servers = lockServersOf(target);
      for (const server of servers) await server.kill();
      return async () => {
        for (const server of servers) await server.restart();
      };
    },
  },
];

export const FAULT_NAMES = FAULTS.map((fault) => fault.name);

export class UnknownFaultError extends Error {}

export function faultsNamed(names: readonly string[]): Fault[] {
  const unknown = names.filter((name) => !FAULT_NAMES.includes(name));
  if (unknown.length)
    throw new UnknownFaultError(`unknown fault ${unknown.join(', ')}; use ${FAULT_NAMES.join(', ')}`);
  return FAULTS.filter((fault) => names.includes(fault.name));
}
