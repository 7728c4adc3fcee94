// How each Redis strategy takes one unit from one segment. The walk over segments around them is shared
// (redis-segments.ts).
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { SegmentKeys } from './keys';
import type { SegmentTake, StockScripts } from './scripts';

export interface SegmentTaker {
  /** lua only: the buyer's claim and the take on its home segment go in one script. */
  readonly claimsAndTakes: boolean;
  take(keys: SegmentKeys, reservation: string): Promise<SegmentTake>;
}

/**
 * segmented-lock (and global-lock, which is the same with one segment): lock the segment with a random token and a
 * short TTL, decrement under a fencing check of that token, release by compare-and-delete.
 */
export function lockedTaker(scripts: StockScripts, lockTtlMs: number): SegmentTaker {
  return {
    claimsAndTakes: false,
    async take(keys, reservation) {
      const token = randomBytes(12).toString('base64url');
      const acquired = await scripts.acquireLock(keys, token, lockTtlMs);
      if (acquired !== 'acquired') return acquired;
      try {
        return await scripts.fencedTake(keys, token, reservation);
      } finally {
        await scripts.releaseLock(keys.lock, token);
      }
    },
  };
}

/** lua: one atomic "decrement if positive" per segment; no lock, never contended. */
export function luaTaker(scripts: StockScripts): SegmentTaker {
  return { claimsAndTakes: true, take: (keys, reservation) => scripts.takeIfPositive(keys, reservation) };
}

/**
 * naive: read, check, write with no lock or script: the control group. Two buyers that read the same value both
 * "take" a unit and write the same new value, so the counter loses decrements and the item oversells.
 */
export function naiveTaker(redis: Redis): SegmentTaker {
  return {
    claimsAndTakes: false,
    async take(keys, reservation) {
      const counter = await redis.get(keys.stock);
      if (counter === null) return 'missing';
      const left = Number(counter);
      if (left <= 0) return 'empty';
      await redis.set(keys.stock, left - 1);
      await redis.zadd(keys.held, Date.now(), reservation);
      return 'taken';
    },
  };
}
