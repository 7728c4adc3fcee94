// How each Redis strategy takes one unit from one segment. The walk over segments around them is shared
// (redis-segments.ts).
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../infra/redis';
import type { SegmentKeys } from './keys';
import { LockCombiner, type LockRound } from './lock-combining';
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
   * Resolves when a round under one of this process's segment locks ends, or after `maxMs`: a buyer who found every
   * segment locked waits instead of polling them (first come, first woken).
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

export interface LockedTakerHooks {
  /** Test seam: runs while a round's lock is held under `token`, before its take (a holder fails or pauses here). */
  whileHeld?(token: string): Promise<void>;
}

/**
 * Lock tokens unique to each round of every process: a random prefix per taker, then a counter. A token only has to
 * differ from every other holder's (the scripts compare, never guess it); 12 random bytes per round cost 2 % of the
 * api process's CPU under a crowd.
 */
function lockTokens(): () => string {
  const prefix = randomBytes(12).toString('base64url');
  let round = 0;
  return () => `${prefix}.${++round}`;
}

/**
 * segmented-lock (and global-lock, which is the same with one segment): lock the segment with a token of its own and a
 * short TTL, then decrement under a fencing check of that token and release the lock in the same script. Only when
 * that script's answer is lost is the lock released on its own (compare-and-delete, harmless if the take did it).
 * The buyers of this process who want a segment it is locking ride with the holder (lock-combining.ts): one acquire
 * and one take per round serve them all, and a buyer's claim rides with the acquire on its home segment. Between
 * processes the Redis lock is the one that counts: another process's round finds it held ('contended').
 */
export function lockedTaker(
  scripts: StockScripts,
  lockTtlMs: number,
  hooks: LockedTakerHooks = {},
): SegmentTaker {
  /** Buyers waiting for a round to end, in arrival order (a Set keeps insertion order). */
  const waiting = new Set<() => void>();
  const wakeFirst = () => {
    const first = waiting.values().next();
    if (!first.done) first.value();
  };
  const combiner = new LockCombiner(lockTokens(), wakeFirst);
  /** One per segment this process has locked (sales × segments): built once, not per buyer. */
  const rounds = new Map<string, LockRound>();
  const roundOn = (keys: SegmentKeys): LockRound => {
    let round = rounds.get(keys.lock);
    if (!round) rounds.set(keys.lock, (round = lockRound(keys)));
    return round;
  };
  const lockRound = (keys: SegmentKeys): LockRound => ({
    async acquire(token, toClaim, alreadyClaimed) {
      if (!toClaim.length) return { lock: await scripts.acquireLock(keys, token, lockTtlMs), claimed: [] };
      return scripts.claimAndAcquireLock(keys, toClaim, alreadyClaimed, token, lockTtlMs);
    },
    takeAndUnlock(token, reservations) {
      const take = () => scripts.fencedTakeAndUnlock(keys, token, reservations);
      // Without the test seam the script is sent now, ahead of the next round's acquire (see LockRound).
      return hooks.whileHeld ? hooks.whileHeld(token).then(take) : take();
    },
    claim: (buyer) => scripts.claim(keys, buyer.userId, buyer.reservation),
    async releaseLock(token) {
      await scripts.releaseLock(keys.lock, token).catch(() => undefined);
    },
  });
  return {
    claimAndTake: (home, userId, reservation) =>
      combiner.ride(home.lock, roundOn(home), { reservation, claim: { userId, reservation } }),
    // A rider with no claim to make is never told 'duplicate'.
    take: async (keys, reservation) =>
      (await combiner.ride(keys.lock, roundOn(keys), { reservation })) as SegmentTake,
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
