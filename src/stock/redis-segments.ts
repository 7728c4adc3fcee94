// Stock kept in Redis as N segment counters. The walk over segments (random start, skip the ones known empty, wait
// while they are contended, declare "sold out" only after seeing every one empty) is shared by the Redis strategies;
// they differ only in how they take a unit from one segment.
import { setTimeout as sleep } from 'node:timers/promises';
import type { StrategyName } from '../config';
import { itemKeys, segmentKeys, type SegmentKeys } from './keys';
import type { StockRedis } from './scripts';
import type { SaleStock, StockStrategy, TakeResult } from './strategy';
import { SoldOutMemory } from './sold-out-memory';

export type SegmentAttempt = 'taken' | 'empty' | 'contended';
export type TakeFromSegment = (
  redis: StockRedis,
  keys: SegmentKeys,
  reservation: string,
) => Promise<SegmentAttempt>;

export interface RedisSegmentsOptions {
  lockWaitMs: number;
  soldOutRecheckMs: number;
  /** Observes every segment attempt (metrics). */
  onAttempt?: (result: SegmentAttempt) => void;
  /** Forces every sale into this many segments (global-lock uses 1: one lock for the whole item). */
  fixedSegments?: number;
}

/** The Redis flag expires so that a unit given back during a sell-out walk is found again within a second. */
const SOLD_OUT_FLAG_TTL_MS = 1000;

export class RedisSegmentedStock implements StockStrategy {
  private readonly memory: SoldOutMemory;

  constructor(
    readonly name: StrategyName,
    private readonly redis: StockRedis,
    private readonly takeFromSegment: TakeFromSegment,
    private readonly options: RedisSegmentsOptions,
  ) {
    this.memory = new SoldOutMemory(options.soldOutRecheckMs);
  }

  segmentsFor(requested: number): number {
    return this.options.fixedSegments ?? requested;
  }

  async load(sale: SaleStock): Promise<void> {
    const pipeline = this.redis.multi();
    splitIntoSegments(sale.stock, sale.segments).forEach((units, segment) => {
      const keys = segmentKeys(sale.itemId, segment);
      pipeline.set(keys.stock, units).del(keys.lock, keys.held, keys.returned);
    });
    const flags = itemKeys(sale.itemId);
    pipeline.del(flags.buyers, flags.soldOut);
    await pipeline.exec();
    this.memory.forget(sale.itemId);
  }

  async isSoldOut(itemId: string): Promise<boolean> {
    const local = this.memory.soldOut(itemId);
    if (local !== undefined) return local;
    const flagged = (await this.redis.exists(itemKeys(itemId).soldOut)) === 1;
    if (flagged) this.memory.markSoldOut(itemId);
    else this.memory.markOnSale(itemId);
    return flagged;
  }

  /**
   * Walks the segments until a unit is taken, every segment has been seen empty (sold out), another buyer declared
   * the item sold out, or the lock wait is over (busy).
   */
  async take(sale: SaleStock, reservation: string): Promise<TakeResult> {
    const deadline = Date.now() + this.options.lockWaitMs;
    const seenEmpty = new Set<number>();
    for (let round = 0; ; round++) {
      for (const segment of this.visitOrder(sale)) {
        const attempt = await this.takeFromSegment(
          this.redis,
          segmentKeys(sale.itemId, segment),
          reservation,
        );
        this.options.onAttempt?.(attempt);
        if (attempt === 'taken') return { kind: 'taken', segment };
        if (attempt === 'empty') {
          seenEmpty.add(segment);
          this.memory.markSegmentEmpty(sale.itemId, segment);
        }
      }
      if (seenEmpty.size === sale.segments) return this.declareSoldOut(sale.itemId);
      if ((await this.redis.exists(itemKeys(sale.itemId).soldOut)) === 1) return { kind: 'sold_out' };
      if (Date.now() >= deadline) return { kind: 'busy' };
      await sleep(Math.min(1 + round, 10) * Math.random());
    }
  }

  private async declareSoldOut(itemId: string): Promise<TakeResult> {
    await this.redis.set(itemKeys(itemId).soldOut, '1', 'PX', SOLD_OUT_FLAG_TTL_MS);
    this.memory.markSoldOut(itemId);
    return { kind: 'sold_out' };
  }

  /** Random start spreads the crowd; segments remembered empty go last (still checked before "sold out"). */
  private visitOrder(sale: SaleStock): number[] {
    const start = Math.floor(Math.random() * sale.segments);
    const ring = Array.from({ length: sale.segments }, (_, i) => (start + i) % sale.segments);
    const empty = this.memory.emptySegments(sale.itemId);
    return [...ring.filter((s) => !empty.has(s)), ...ring.filter((s) => empty.has(s))];
  }

  async confirm(itemId: string, segment: number, reservation: string): Promise<void> {
    await this.redis.zrem(segmentKeys(itemId, segment).held, reservation);
  }

  async giveBack(itemId: string, segment: number, reservation: string): Promise<void> {
    const keys = segmentKeys(itemId, segment);
    await this.redis.giveBack(keys.stock, keys.held, keys.returned, reservation);
    await this.redis.del(itemKeys(itemId).soldOut);
    this.memory.forget(itemId);
  }

  async remaining(sale: SaleStock): Promise<number> {
    const pipeline = this.redis.pipeline();
    for (let s = 0; s < sale.segments; s++) pipeline.get(segmentKeys(sale.itemId, s).stock);
    const replies = (await pipeline.exec()) ?? [];
    return replies.reduce((sum, [err, value]) => {
      if (err) throw err;
      return sum + Number(value ?? 0);
    }, 0);
  }
}

/** Spreads `stock` units over `segments` counters as evenly as possible (the first ones get the remainder). */
export function splitIntoSegments(stock: number, segments: number): number[] {
  const base = Math.floor(stock / segments);
  const extra = stock % segments;
  return Array.from({ length: segments }, (_, i) => base + (i < extra ? 1 : 0));
}
