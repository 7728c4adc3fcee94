// How each Redis strategy takes one unit from one segment. The walk over segments around them is shared
// (redis-segments.ts).
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../infra/redis';
import type { SegmentKeys } from './keys';
import type { ClaimTake, SegmentTake, StockScripts } from './scripts';

export interface SegmentTaker {
  /**
   * A purchase's first attempt, on the buyer's home segment (whose slot holds the buyer's claim): claim the user
   * (one purchase per user and item), then take from that segment. 'missing': nothing was claimed or taken.
   */
  claimAndTake(home: SegmentKeys, userId: string, reservation: string): Promise<ClaimTake>;
  /** A further attempt, on another segment, for a buyer already claimed. */
  take(keys: SegmentKeys, reservation: string): Promise<SegmentTake>;
  /**
   * Resolves when this process releases a segment lock, or after `maxMs`: a buyer who found every segment locked
   * waits for one instead of polling them (first come, first woken).
   */
  waitForRelease?(maxMs: number): Promise<void>;
}

/** Claim and take as two steps (the strategies whose take is not a script on the stock's Redis). */
async function claimThenTake(
  scripts: StockScripts,
  taker: Pick<SegmentTaker, 'take'>,
  home: SegmentKeys,
  userId: string,
  reservation: string,
): Promise<ClaimTake> {
  if (!(await scripts.claim(home, userId, reservation))) return 'duplicate';
  return taker.take(home, reservation);
}

/**
 * segmented-lock (and global-lock, which is the same with one segment): lock the segment with a random token and a
 * short TTL, then decrement under a fencing check of that token and release the lock in the same script. Only when
 * that script's answer is lost is the lock released on its own (compare-and-delete, harmless if the take did it).
 * A segment this process is already locking is skipped without asking Redis: that acquire could only fail, and under
 * a crowd most contention is a process's own buyers (the Redis lock stays the one that counts between processes).
 */
export function lockedTaker(scripts: StockScripts, lockTtlMs: number): SegmentTaker {
  const busyHere = new Set<string>();
  /** Buyers waiting for a release, in arrival order (a Set keeps insertion order). */
  const waiting = new Set<() => void>();
  const released = (lockKey: string) => {
    busyHere.delete(lockKey);
    const first = waiting.values().next();
    if (!first.done) first.value();
  };
  const takeUnderLock = async (keys: SegmentKeys, token: string, reservation: string) => {
    try {
      return await scripts.fencedTakeAndUnlock(keys, token, reservation);
    } catch (err) {
      await scripts.releaseLock(keys.lock, token).catch(() => undefined);
      throw err;
    }
  };
  const lockAndTake = async <A extends string>(
    keys: SegmentKeys,
    reservation: string,
    acquire: (token: string) => Promise<A | 'acquired'>,
  ): Promise<A | SegmentTake> => {
    busyHere.add(keys.lock);
    try {
      const token = randomBytes(12).toString('base64url');
      const acquired = await acquire(token);
      if (acquired !== 'acquired') return acquired;
      return await takeUnderLock(keys, token, reservation);
    } finally {
      released(keys.lock);
    }
  };
  return {
    // The claim rides with the home segment's lock: one round trip less per purchase, the lock still a real one.
    async claimAndTake(home, userId, reservation) {
      if (busyHere.has(home.lock))
        return (await scripts.claim(home, userId, reservation)) ? 'contended' : 'duplicate';
      return lockAndTake(home, reservation, (token) =>
        scripts.claimAndAcquireLock(home, userId, reservation, token, lockTtlMs),
      );
    },
    async take(keys, reservation) {
      if (busyHere.has(keys.lock)) return 'contended';
      return lockAndTake(keys, reservation, (token) => scripts.acquireLock(keys, token, lockTtlMs));
    },
    waitForRelease(maxMs) {
      return new Promise((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          waiting.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, maxMs);
        waiting.add(wake);
      });
    },
  };
}

/**
 * A lock on one segment kept outside the stock's Redis (etcd, ZooKeeper, Redlock, a PostgreSQL row), with the
 * fencing token its service handed out: tokens of later holders of the same segment are higher.
 */
export interface SegmentLock {
  /** undefined: someone else holds it (the walk moves on). Throws when the lock service cannot be asked. */
  acquire(keys: SegmentKeys): Promise<HeldLock | undefined>;
  close(): Promise<void>;
}

export interface HeldLock {
  token: bigint;
  /** Never throws: a lock that cannot be released is left to its lease (the implementation drops the lease). */
  release(): Promise<void>;
  /** The take refused this token for a higher one: lets a lock service that lost its counters catch up. */
  lostTo?(highest: bigint): Promise<void>;
}

export interface ExternalLockHooks {
  /** Test seam: runs while the lock is held, before the take (a holder is paused here). */
  whileHeld?(token: bigint): Promise<void>;
}

/**
 * etcd-lock, zk-lock, redlock, db-lock: only the lock moves out of Redis. The segment counter stays the stock; the
 * take checks the lock's fencing token (token-fenced-take.lua), so a holder paused past its lease takes nothing once
 * a later holder has reached the segment. Empty or lost segments are seen from the counter without locking them.
 */
export function externalLockTaker(
  scripts: StockScripts,
  lock: SegmentLock,
  hooks: ExternalLockHooks = {},
): SegmentTaker {
  const taker: SegmentTaker = {
    claimAndTake: (home, userId, reservation) => claimThenTake(scripts, taker, home, userId, reservation),
    async take(keys, reservation) {
      const left = await scripts.counter(keys);
      if (left === undefined) return 'missing';
      if (left <= 0) return 'empty';
      const held = await lock.acquire(keys);
      if (!held) return 'contended';
      try {
        await hooks.whileHeld?.(held.token);
        const { take, highest } = await scripts.tokenFencedTake(keys, held.token, reservation);
        if (highest !== undefined) await held.lostTo?.(highest);
        return take;
      } finally {
        await held.release();
      }
    },
  };
  return taker;
}

/** lua: one atomic "decrement if positive" per segment; no lock, never contended. */
export function luaTaker(scripts: StockScripts): SegmentTaker {
  return {
    claimAndTake: (home, userId, reservation) => scripts.claimAndTake(home, userId, reservation),
    take: (keys, reservation) => scripts.takeIfPositive(keys, reservation),
  };
}

/**
 * naive: read, check, write with no lock or script: the control group. Two buyers that read the same value both
 * "take" a unit and write the same new value, so the counter loses decrements and the item oversells.
 */
export function naiveTaker(redis: RedisClient, scripts: StockScripts): SegmentTaker {
  const taker: SegmentTaker = {
    claimAndTake: (home, userId, reservation) => claimThenTake(scripts, taker, home, userId, reservation),
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
  return taker;
}
