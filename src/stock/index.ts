// The stock module's one entry: a strategy per name, all behind the StockStrategy port (port.ts).
import type { RedisClient } from '../infra/redis';
import type { Config, LockBackendsConfig, StrategyName } from '../config';
import { AppError } from '../errors';
import { DatabaseStock } from './database-stock';
import type { StockLedger, StockStrategy } from './port';
import { RedisSegmentedStock, splitIntoSegments, type RedisSegmentsOptions } from './redis-segments';
import { StockScripts, type SegmentTake } from './scripts';
import { DatabaseRowLock } from './locks/db-lock';
import { EtcdSegmentLock } from './locks/etcd-lock';
import { RedlockSegmentLock } from './locks/redlock';
import { ZookeeperSegmentLock } from './locks/zk-lock';
import {
  externalLockTaker,
  lockedTaker,
  luaTaker,
  naiveTaker,
  type SegmentLock,
  type SegmentTaker,
} from './segment-takers';

export type * from './port';
export { splitIntoSegments };

export interface StockObservers {
  onAttempt?: (result: SegmentTake) => void;
  onRepair?: RedisSegmentsOptions['onRepair'];
  onRepairError?: RedisSegmentsOptions['onRepairError'];
}

export interface Stock {
  get(name: StrategyName): StockStrategy;
  all(): StockStrategy[];
  /** Ends the lock services' sessions, leases and connections. */
  close(): Promise<void>;
}

export type LockStrategyName = 'etcd-lock' | 'zk-lock' | 'redlock' | 'db-lock';

/** The lock a lock strategy takes per segment, or the setting it is missing. */
export function createSegmentLock(name: LockStrategyName, config: LockBackendsConfig): SegmentLock | string {
  switch (name) {
    case 'etcd-lock':
      return config.etcdEndpoints
        ? new EtcdSegmentLock(config.etcdEndpoints, config.leaseMs)
        : 'etcd-lock needs ETCD_ENDPOINTS';
    case 'zk-lock':
      return config.zookeeperConnect
        ? new ZookeeperSegmentLock(config.zookeeperConnect, config.leaseMs)
        : 'zk-lock needs ZOOKEEPER_CONNECT';
    case 'redlock':
      return config.redlockUrls
        ? new RedlockSegmentLock(config.redlockUrls, config.leaseMs)
        : 'redlock needs REDLOCK_URLS (three or more Redis servers)';
    case 'db-lock':
      return new DatabaseRowLock(config.databaseUrl, config.leaseMs);
  }
}

export function createStock(
  redis: RedisClient,
  ledger: StockLedger,
  config: Config['stock'],
  observers: StockObservers = {},
): Stock {
  const scripts = new StockScripts(redis);
  const walk = { lockWaitMs: config.lockWaitMs, soldOutRecheckMs: config.soldOutRecheckMs, ...observers };
  const checked: RedisSegmentsOptions = { ...walk, checkedByDatabase: true };
  const inRedis = (name: StrategyName, taker: SegmentTaker, options = checked) =>
    new RedisSegmentedStock(name, redis, scripts, taker, ledger, options);

  const locks: SegmentLock[] = [];
  /** A lock strategy on its own lock service; unconfigured, it refuses new sales naming the missing setting. */
  const onLockService = (name: LockStrategyName): StockStrategy => {
    const lock = createSegmentLock(name, config.locks);
    if (typeof lock === 'string') return new UnconfiguredStock(name, lock);
    locks.push(lock);
    return inRedis(name, externalLockTaker(scripts, lock));
  };

  const strategies: Record<StrategyName, StockStrategy> = {
    'segmented-lock': inRedis('segmented-lock', lockedTaker(scripts, config.lockTtlMs)),
    'global-lock': inRedis('global-lock', lockedTaker(scripts, config.lockTtlMs), {
      ...checked,
      fixedSegments: 1,
    }),
    lua: inRedis('lua', luaTaker(scripts)),
    naive: inRedis('naive', naiveTaker(redis, scripts), { ...walk, checkedByDatabase: false }),
    db: new DatabaseStock(ledger, config.soldOutRecheckMs),
    'etcd-lock': onLockService('etcd-lock'),
    'zk-lock': onLockService('zk-lock'),
    redlock: onLockService('redlock'),
    'db-lock': onLockService('db-lock'),
  };
  return {
    get: (name) => strategies[name],
    all: () => Object.values(strategies),
    close: async () => {
      await Promise.allSettled(locks.map((lock) => lock.close()));
    },
  };
}

/** A lock strategy whose lock service is not configured: its sales cannot be created. */
class UnconfiguredStock implements StockStrategy {
  readonly checkedByDatabase = true;
  constructor(
    readonly name: StrategyName,
    private readonly missing: string,
  ) {}
  segmentsFor = (requested: number) => requested;
  load(): Promise<void> {
    throw new AppError('invalid_input', this.missing);
  }
  soldOut = () => false;
  seenSoldOut = () => false;
  take(): Promise<never> {
    throw new AppError('unavailable', this.missing);
  }
  settle = async () => undefined;
  returnUnit = async () => false;
  staleReservations = async () => [];
  remaining = async () => 0;
  repair = async () => ({ rebuilt: 0, corrected: 0 });
}
