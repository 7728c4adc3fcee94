// How each Redis strategy takes one unit from one segment. The segment walk around them is shared (redis-segments.ts).
import { randomBytes } from 'node:crypto';
import type { SegmentAttempt, TakeFromSegment } from './redis-segments';

/**
 * segmented-lock (and global-lock, which is the same with one segment): lock the segment with a random token and a
 * short TTL, decrement under a fencing check of that token, release by compare-and-delete.
 */
export function lockedTake(lockTtlMs: number): TakeFromSegment {
  return async (redis, keys, reservation) => {
    const token = randomBytes(12).toString('base64url');
    const acquired = await redis.acquireLock(keys.stock, keys.lock, token, lockTtlMs);
    if (acquired !== 1) return acquired === 0 ? 'empty' : 'contended';
    try {
      const taken = await redis.fencedTake(keys.stock, keys.lock, keys.held, token, reservation, Date.now());
      return taken === 1 ? 'taken' : taken === 0 ? 'empty' : 'contended';
    } finally {
      await redis.releaseLock(keys.lock, token);
    }
  };
}

/** lua: one atomic "decrement if positive" per segment; no lock, never contended. */
export const luaTake: TakeFromSegment = async (redis, keys, reservation) => {
  const taken = await redis.takeIfPositive(keys.stock, keys.held, reservation, Date.now());
  return taken === 1 ? 'taken' : 'empty';
};

/**
 * naive: read, check, write with no lock or script: the control group. Two buyers that read the same value both
 * "take" a unit and write the same new value, so the counter loses decrements and the item oversells.
 */
export const naiveTake: TakeFromSegment = async (redis, keys, reservation): Promise<SegmentAttempt> => {
  const left = Number((await redis.get(keys.stock)) ?? 0);
  if (left <= 0) return 'empty';
  await redis.set(keys.stock, left - 1);
  await redis.zadd(keys.held, Date.now(), reservation);
  return 'taken';
};
