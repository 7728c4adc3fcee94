// The stock module's one entry: a strategy per name, all behind the StockStrategy port (port.ts).
import type { Redis } from 'ioredis';
import type { Config, StrategyName } from '../config';
import { DatabaseStock } from './database-stock';
import type { StockLedger, StockStrategy } from './port';
import { RedisSegmentedStock, splitIntoSegments, type RedisSegmentsOptions } from './redis-segments';
import { StockScripts, type SegmentTake } from './scripts';
import { lockedTaker, luaTaker, naiveTaker, type SegmentTaker } from './segment-takers';

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
}

export function createStock(
  redis: Redis,
  ledger: StockLedger,
  config: Config['stock'],
  observers: StockObservers = {},
): Stock {
  const scripts = new StockScripts(redis);
  const walk = { lockWaitMs: config.lockWaitMs, soldOutRecheckMs: config.soldOutRecheckMs, ...observers };
  const checked: RedisSegmentsOptions = { ...walk, checkedByDatabase: true };
  const inRedis = (name: StrategyName, taker: SegmentTaker, options = checked) =>
    new RedisSegmentedStock(name, redis, scripts, taker, ledger, options);

  const strategies: Record<StrategyName, StockStrategy> = {
    'segmented-lock': inRedis('segmented-lock', lockedTaker(scripts, config.lockTtlMs)),
    'global-lock': inRedis('global-lock', lockedTaker(scripts, config.lockTtlMs), {
      ...checked,
      fixedSegments: 1,
    }),
    lua: inRedis('lua', luaTaker(scripts)),
    naive: inRedis('naive', naiveTaker(redis), { ...walk, checkedByDatabase: false }),
    db: new DatabaseStock(ledger, config.soldOutRecheckMs),
  };
  return { get: (name) => strategies[name], all: () => Object.values(strategies) };
}
