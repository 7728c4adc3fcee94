// Builds the inventory strategies by name (the README's "Strategies" table). All share the StockStrategy interface.
import type { Redis } from 'ioredis';
import type { Config, StrategyName } from '../config';
import type { Db } from '../infra/prisma';
import { DatabaseStock } from './database-stock';
import { RedisSegmentedStock, type SegmentAttempt } from './redis-segments';
import { withStockScripts } from './scripts';
import { lockedTake, luaTake, naiveTake } from './segment-takers';
import type { SaleStock, StockStrategy } from './strategy';

export interface Strategies {
  get(name: StrategyName): StockStrategy;
  /** Puts a new sale's stock where its strategy sells from; returns the segment count actually used. */
  segmentsFor(name: StrategyName, requested: number): number;
  load(name: StrategyName, sale: SaleStock): Promise<void>;
}

export function createStrategies(
  redis: Redis,
  db: Db,
  config: Config['stock'],
  onAttempt?: (result: SegmentAttempt) => void,
): Strategies {
  const stockRedis = withStockScripts(redis);
  const walk = { lockWaitMs: config.lockWaitMs, soldOutRecheckMs: config.soldOutRecheckMs, onAttempt };
  const redisStrategies: Record<Exclude<StrategyName, 'db'>, RedisSegmentedStock> = {
    'segmented-lock': new RedisSegmentedStock(
      'segmented-lock',
      stockRedis,
      lockedTake(config.lockTtlMs),
      walk,
    ),
    'global-lock': new RedisSegmentedStock('global-lock', stockRedis, lockedTake(config.lockTtlMs), {
      ...walk,
      fixedSegments: 1,
    }),
    lua: new RedisSegmentedStock('lua', stockRedis, luaTake, walk),
    naive: new RedisSegmentedStock('naive', stockRedis, naiveTake, walk),
  };
  const database = new DatabaseStock(db, config.soldOutRecheckMs);

  return {
    get: (name) => (name === 'db' ? database : redisStrategies[name]),
    segmentsFor: (name, requested) => (name === 'db' ? 1 : redisStrategies[name].segmentsFor(requested)),
    async load(name, sale) {
      // The db strategy's stock is the item row's `available` column, written with the row itself.
      if (name !== 'db') await redisStrategies[name].load(sale);
    },
  };
}
