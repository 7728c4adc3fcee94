// One typed method per Lua script (lua/*.lua, each opening with its KEYS, ARGV and return codes): the methods build
// KEYS/ARGV and decode the integer replies into names, here and nowhere else. Scripts are sent by EVALSHA.
import { join } from 'node:path';
import { defineScripts, readLuaFile } from '../infra/lua-scripts';
import type { RedisClient } from '../infra/redis';
import type { SegmentKeys } from './keys';

const LUA = {
  claim: 1,
  releaseBuyer: 1,
  claimAndTake: 4,
  takeIfPositive: 3,
  acquireLock: 2,
  claimAndAcquireLock: 3,
  fencedTakeAndUnlock: 4,
  tokenFencedTake: 4,
  releaseLock: 1,
  releaseReservation: 3,
  discardReservation: 3,
  returnUnit: 3,
  rebuildSegment: 4,
  readSegment: 3,
  resyncSegment: 3,
} as const;

type ScriptName = keyof typeof LUA;
type ScriptRedis = RedisClient & Record<ScriptName, (...args: (string | number)[]) => Promise<unknown>>;

const LUA_DIR = join(__dirname, 'lua');

/** The source of lua/<file>.lua for a script named in camelCase (also for scripts run on other servers). */
export const readLua = (name: string) => readLuaFile(LUA_DIR, name);

/** The answer of a take from one segment; fenced: the lock's token was older than one the segment had seen. */
export type SegmentTake = 'taken' | 'empty' | 'contended' | 'missing' | 'fenced';
export type ClaimTake = SegmentTake | 'duplicate';
export type LockAcquire = 'acquired' | 'empty' | 'contended' | 'missing';

/** A buyer whose claim (one purchase per user and item) is made on its home segment. */
export interface Buyer {
  userId: string;
  reservation: string;
}

/**
 * The answer of claim-and-acquire-lock: the lock ('nobody': every buyer was a duplicate and nobody else waits, so
 * nothing was locked) and, per buyer in order, whether it is claimed ('missing': nothing was claimed).
 */
export interface ClaimsAndLock {
  lock: LockAcquire | 'nobody';
  claimed: boolean[];
}

function decode<T extends string>(codes: Record<number, T>, reply: unknown, script: string): T {
  const name = codes[Number(reply)];
  if (name === undefined) throw new Error(`${script}: unexpected reply ${String(reply)}`);
  return name;
}

const TAKE: Record<number, SegmentTake> = { 1: 'taken', 0: 'empty', [-1]: 'contended', [-2]: 'missing' };
const CLAIM_TAKE: Record<number, ClaimTake> = { ...TAKE, [-3]: 'duplicate' };
const ACQUIRE: Record<number, LockAcquire> = {
  1: 'acquired',
  0: 'empty',
  [-1]: 'contended',
  [-2]: 'missing',
};
const CLAIM_ACQUIRE: Record<number, LockAcquire | 'nobody'> = { ...ACQUIRE, [-3]: 'nobody' };
const RETURN_UNIT = { 1: 'returned', 0: 'already_returned', [-2]: 'missing' } as const;

export class StockScripts {
  private readonly redis: ScriptRedis;

  constructor(redis: RedisClient) {
    defineScripts(redis, LUA_DIR, LUA);
    this.redis = redis as ScriptRedis;
  }

  async claim(k: SegmentKeys, userId: string, reservation: string): Promise<boolean> {
    return (await this.redis.claim(k.buyers, userId, reservation)) === 1;
  }

  async releaseBuyer(k: SegmentKeys, userId: string, reservation: string): Promise<boolean> {
    return (await this.redis.releaseBuyer(k.buyers, userId, reservation)) === 1;
  }

  async claimAndTake(k: SegmentKeys, userId: string, reservation: string): Promise<ClaimTake> {
    const reply = await this.redis.claimAndTake(
      k.stock,
      k.held,
      k.ops,
      k.buyers,
      userId,
      reservation,
      Date.now(),
    );
    return decode(CLAIM_TAKE, reply, 'claim-and-take');
  }

  async takeIfPositive(k: SegmentKeys, reservation: string): Promise<SegmentTake> {
    const reply = await this.redis.takeIfPositive(k.stock, k.held, k.ops, reservation, Date.now());
    return decode(TAKE, reply, 'take-if-positive');
  }

  async acquireLock(k: SegmentKeys, token: string, ttlMs: number): Promise<LockAcquire> {
    return decode(ACQUIRE, await this.redis.acquireLock(k.stock, k.lock, token, ttlMs), 'acquire-lock');
  }

  /**
   * Claims `buyers` on their home segment `k` and locks it with `token` for one round, unless it is empty or nobody
   * would take under the lock (`alreadyClaimed`: riders of the round whose claim was made before).
   */
  async claimAndAcquireLock(
    k: SegmentKeys,
    buyers: readonly Buyer[],
    alreadyClaimed: number,
    token: string,
    ttlMs: number,
  ): Promise<ClaimsAndLock> {
    const pairs = buyers.flatMap((b) => [b.userId, b.reservation]);
    const [lock, ...claimed] = (await this.redis.claimAndAcquireLock(
      k.stock,
      k.lock,
      k.buyers,
      token,
      ttlMs,
      alreadyClaimed,
      ...pairs,
    )) as number[];
    return {
      lock: decode(CLAIM_ACQUIRE, lock, 'claim-and-acquire-lock'),
      claimed: claimed.map((code) => code === 1),
    };
  }

  /** Removes the reservations of ordered purchases (their units are now the database's) in one command. */
  async forgetReservations(heldKey: string, reservations: string[]): Promise<void> {
    await this.redis.zrem(heldKey, ...reservations);
  }

  /** Takes one unit per reservation, in order, under the lock of `token`, and releases it; one answer each. */
  async fencedTakeAndUnlock(
    k: SegmentKeys,
    token: string,
    reservations: readonly string[],
  ): Promise<SegmentTake[]> {
    const replies = (await this.redis.fencedTakeAndUnlock(
      k.stock,
      k.lock,
      k.held,
      k.ops,
      token,
      Date.now(),
      ...reservations,
    )) as number[];
    return replies.map((code) => decode(TAKE, code, 'fenced-take-and-unlock'));
  }

  /** The take of an external lock's holder; `highest` (when fenced) is the token it lost to. */
  async tokenFencedTake(
    k: SegmentKeys,
    token: bigint,
    reservation: string,
  ): Promise<{ take: SegmentTake; highest?: bigint }> {
    const [code, highest] = (await this.redis.tokenFencedTake(
      k.stock,
      k.held,
      k.ops,
      k.fence,
      token.toString(),
      reservation,
      Date.now(),
    )) as [number, string | undefined];
    if (code === -3) return { take: 'fenced', highest: BigInt(highest!) };
    return { take: decode(TAKE, code, 'token-fenced-take') };
  }

  /** The segment's counter without a lock: lets external-lock takers skip empty segments without locking them. */
  async counter(k: SegmentKeys): Promise<number | undefined> {
    const value = await this.redis.get(k.stock);
    return value === null ? undefined : Number(value);
  }

  async releaseLock(lockKey: string, token: string): Promise<boolean> {
    return (await this.redis.releaseLock(lockKey, token)) === 1;
  }

  /** true when a held unit went back (false: nothing was held under this reservation). */
  async releaseReservation(k: SegmentKeys, reservation: string): Promise<boolean> {
    return (await this.redis.releaseReservation(k.stock, k.held, k.ops, reservation)) === 1;
  }

  /** Returns how many phantom units the clamp removed. */
  async discardReservation(k: SegmentKeys, reservation: string): Promise<number> {
    return Number(await this.redis.discardReservation(k.stock, k.held, k.ops, reservation));
  }

  async returnUnit(k: SegmentKeys, orderId: string): Promise<(typeof RETURN_UNIT)[keyof typeof RETURN_UNIT]> {
    return decode(
      RETURN_UNIT,
      await this.redis.returnUnit(k.stock, k.returned, k.ops, orderId),
      'return-unit',
    );
  }

  async rebuildSegment(k: SegmentKeys, forSale: number, owedOrderIds: string[]): Promise<boolean> {
    const reply = await this.redis.rebuildSegment(
      k.stock,
      k.held,
      k.returned,
      k.ops,
      forSale,
      ...owedOrderIds,
    );
    return reply === 1;
  }

  async readSegment(k: SegmentKeys): Promise<{ counter: number | undefined; ops: number; inFlight: number }> {
    const [counter, ops, inFlight] = (await this.redis.readSegment(k.stock, k.held, k.ops)) as [
      string | null,
      number,
      number,
    ];
    return { counter: counter === null ? undefined : Number(counter), ops, inFlight };
  }

  async resyncSegment(k: SegmentKeys, expectedOps: number, forSale: number): Promise<boolean> {
    return (await this.redis.resyncSegment(k.stock, k.held, k.ops, expectedOps, forSale)) === 1;
  }
}
