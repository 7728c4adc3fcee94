// Stock kept in Redis as N segment counters. The walk over segments (random start, skip the ones known empty, wait
// while they are contended, declare "sold out" only after seeing every one empty) is shared by the Redis strategies;
// they differ only in how they take a unit from one segment. Redis is a gate, not the truth: the database's ledger
// rebuilds a segment Redis lost and corrects one that drifted (repair).
import { setTimeout as sleep } from 'node:timers/promises';
import DataLoader from 'dataloader';
import { groupBy } from '../infra/group-by';
import type { RedisClient } from '../infra/redis';
import type { StrategyName } from '../config';
import { homeSegment, itemKeys, segmentKeys } from './keys';
import type {
  Purchase,
  RepairReport,
  SaleStock,
  Settlement,
  StockLedger,
  StockStrategy,
  TakeResult,
} from './port';
import type { SegmentTaker } from './segment-takers';
import type { SegmentTake, StockScripts } from './scripts';
import { SoldOutMemory } from './sold-out-memory';

export interface RedisSegmentsOptions {
  lockWaitMs: number;
  soldOutRecheckMs: number;
  /** Forces every sale into this many segments (global-lock uses 1: one lock for the whole item). */
  fixedSegments?: number;
  /** false for naive: the control group is never corrected from the database. */
  checkedByDatabase: boolean;
  /** Observes every segment attempt (metrics). */
  onAttempt?: (result: SegmentTake) => void;
  /** Observes repairs and clamps (metrics, logs). */
  onRepair?: (itemId: string, what: 'rebuilt' | 'corrected' | 'clamped', count: number) => void;
  onRepairError?: (itemId: string, err: unknown) => void;
}

/** The Redis flag expires so that a unit given back during a sell-out walk is found again within a second. */
const SOLD_OUT_FLAG_TTL_MS = 1000;
/** One process repairs a sale at a time; the lock outlives a slow ledger read, not a crashed holder. */
const REPAIR_LOCK_TTL_MS = 10_000;
/**
 * Longest wait for the end of a round under one of this process's locks before looking again: each round's end wakes
 * one waiter at once, so this bounds only the wait for a lock another process holds (polling every segment sooner
 * costs more CPU).
 */
const RELEASE_WAIT_MS = 20;
/** First and longest pause between two looks at units held at a sell-out's edge (their orders take a commit). */
const HELD_RECHECK_MS = 10;
const HELD_RECHECK_MAX_MS = 200;
/** Buyers are written back in chunks so that one command never carries a whole sale. */
const BUYERS_CHUNK = 1000;

export class RedisSegmentedStock implements StockStrategy {
  private readonly memory: SoldOutMemory;
  private readonly repairing = new Map<string, Promise<unknown>>();
  /** Ordered purchases settle together: one ZREM per segment for all the orders of a committed batch. */
  private readonly orderedReservations: DataLoader<HeldReservation, void>;
  readonly checkedByDatabase: boolean;

  constructor(
    readonly name: StrategyName,
    private readonly redis: RedisClient,
    private readonly scripts: StockScripts,
    private readonly taker: SegmentTaker,
    private readonly ledger: StockLedger,
    private readonly options: RedisSegmentsOptions,
  ) {
    this.memory = new SoldOutMemory(options.soldOutRecheckMs);
    this.checkedByDatabase = options.checkedByDatabase;
    this.orderedReservations = new DataLoader(forgetReservationsOf(scripts), { cache: false });
  }

  segmentsFor(requested: number): number {
    return this.options.fixedSegments ?? requested;
  }

  async load(sale: SaleStock): Promise<void> {
    // One transaction per segment: a segment's keys share a slot, the segments of an item do not (Redis Cluster).
    await Promise.all(
      splitIntoSegments(sale.stock, sale.segments).map((units, segment) => {
        const keys = segmentKeys(sale.itemId, segment);
        return this.redis
          .multi()
          .set(keys.stock, units)
          .del(keys.lock, keys.held, keys.returned, keys.ops, keys.buyers, keys.fence)
          .exec();
      }),
    );
    await this.unitIsBack(sale.itemId);
  }

  soldOut(itemId: string): boolean {
    return this.memory.soldOut(itemId) === true;
  }

  seenSoldOut(itemId: string): boolean {
    return this.memory.seenSoldOut(itemId);
  }

  async take(sale: SaleStock, purchase: Purchase): Promise<TakeResult> {
    const home = homeSegment(purchase.userId, sale.segments);
    const homeKeys = segmentKeys(sale.itemId, home);
    const release = () => this.scripts.releaseBuyer(homeKeys, purchase.userId, purchase.reservation);
    try {
      const first = await this.taker.claimAndTake(homeKeys, purchase.userId, purchase.reservation);
      this.options.onAttempt?.(first === 'duplicate' ? 'contended' : first);
      if (first === 'duplicate') return { kind: 'duplicate' };
      const result: TakeResult =
        first === 'taken'
          ? { kind: 'taken', segment: home }
          : first === 'missing'
            ? this.repairThenBusy(sale)
            : await this.walk(sale, purchase, home, first);
      if (result.kind === 'taken') this.memory.markInStock(sale.itemId);
      else await release();
      return result;
    } catch (err) {
      // The claim may have been made before the failure (a lock server down, a lost reply): the buyer may try again.
      await release().catch(() => undefined);
      throw err;
    }
  }

  /**
   * After the home segment's answer: walks the segments until a unit is taken, every segment has been seen empty
   * (sold out, or busy while units are held), another buyer declared the item sold out, or the lock wait is over
   * (busy). A missing segment is never "empty": the sale is repaired and the buyer hears "busy", never a wrong
   * "sold out".
   */
  private async walk(
    sale: SaleStock,
    purchase: Purchase,
    home: number,
    atHome: SegmentTake,
  ): Promise<TakeResult> {
    const seenEmpty = new Set<number>();
    if (atHome === 'empty') this.sawEmpty(sale.itemId, home, seenEmpty);
    const deadline = Date.now() + this.options.lockWaitMs;
    for (let round = 0; ; round++) {
      let missing = false;
      for (const segment of this.visitOrder(sale, round === 0 ? home : undefined)) {
        const attempt = await this.taker.take(segmentKeys(sale.itemId, segment), purchase.reservation);
        this.options.onAttempt?.(attempt);
        if (attempt === 'taken') return { kind: 'taken', segment };
        if (attempt === 'missing') missing = true;
        if (attempt === 'empty') this.sawEmpty(sale.itemId, segment, seenEmpty);
      }
      if (missing) return this.repairThenBusy(sale);
      if (seenEmpty.size === sale.segments) {
        const settled = await this.soldOutOrBusy(sale, deadline);
        if (settled) return settled;
        seenEmpty.clear(); // a unit came back while the buyer waited: walk again
        continue;
      }
      // Only a walk that met empty segments can be near a sell-out another buyer already declared.
      if (seenEmpty.size && (await this.redis.exists(itemKeys(sale.itemId).soldOut)) === 1) {
        this.memory.markSoldOut(sale.itemId);
        return { kind: 'sold_out' };
      }
      if (Date.now() >= deadline) return { kind: 'busy' };
      await (this.taker.waitForRelease?.(RELEASE_WAIT_MS) ?? sleep(Math.min(1 + round, 10) * Math.random()));
    }
  }

  private sawEmpty(itemId: string, segment: number, seenEmpty: Set<number>): void {
    seenEmpty.add(segment);
    this.memory.markSegmentEmpty(itemId, segment);
  }

  /**
   * Every counter is at 0, but units held by purchases still awaiting the database are not sold yet: they come back
   * if those orders fail (a database failover holds them for seconds). Only an item with nothing held is declared sold
   * out, so no buyer is told "sold out" about units that come back. Meanwhile the buyer waits for the held units to
   * settle, looking again at growing intervals, until the lock wait is over (then busy): a crowd that reaches the last
   * units as fast as its commits hears "sold out" when they commit rather than "busy". undefined: a segment has units
   * again (or is missing), and the buyer walks again.
   */
  private async soldOutOrBusy(sale: SaleStock, deadline: number): Promise<TakeResult | undefined> {
    for (let look = 0; ; look++) {
      const segments = await this.readSegments(sale);
      if (segments.some((segment) => segment.counter === undefined || segment.counter > 0)) return undefined;
      if (!segments.some((segment) => segment.inFlight > 0)) return this.declareSoldOut(sale.itemId);
      const wait = Math.min(HELD_RECHECK_MS * 2 ** look, HELD_RECHECK_MAX_MS, deadline - Date.now());
      if (wait <= 0) return { kind: 'busy' };
      await sleep(wait);
    }
  }

  /** One consistent look at each segment, indexed by segment number. */
  private readSegments(sale: SaleStock) {
    return Promise.all(
      Array.from({ length: sale.segments }, (_, s) => this.scripts.readSegment(segmentKeys(sale.itemId, s))),
    );
  }

  private async declareSoldOut(itemId: string): Promise<TakeResult> {
    await this.redis.set(itemKeys(itemId).soldOut, '1', 'PX', SOLD_OUT_FLAG_TTL_MS);
    this.memory.markSoldOut(itemId);
    return { kind: 'sold_out' };
  }

  /** Random start spreads the crowd; segments remembered empty go last; `tried` was just tried. */
  private visitOrder(sale: SaleStock, tried: number | undefined): number[] {
    const start = Math.floor(Math.random() * sale.segments);
    const ring = Array.from({ length: sale.segments }, (_, i) => (start + i) % sale.segments).filter(
      (s) => s !== tried,
    );
    const empty = this.memory.emptySegments(sale.itemId);
    return [...ring.filter((s) => !empty.has(s)), ...ring.filter((s) => empty.has(s))];
  }

  async settle(sale: SaleStock, segment: number, purchase: Purchase, settlement: Settlement): Promise<void> {
    const keys = segmentKeys(sale.itemId, segment);
    const homeKeys = segmentKeys(sale.itemId, homeSegment(purchase.userId, sale.segments));
    switch (settlement) {
      case 'ordered':
        await this.orderedReservations.load({ heldKey: keys.held, reservation: purchase.reservation });
        return;
      case 'duplicate': // the database holds an order of this user: the unit goes back, the claim stays
      case 'failed': // rolled back: the unit goes back and the buyer may try again
        if (await this.scripts.releaseReservation(keys, purchase.reservation))
          await this.unitIsBack(sale.itemId);
        if (settlement === 'failed')
          await this.scripts.releaseBuyer(homeKeys, purchase.userId, purchase.reservation);
        return;
      case 'refused': {
        const phantom = await this.scripts.discardReservation(keys, purchase.reservation);
        this.options.onRepair?.(sale.itemId, 'clamped', phantom);
        await this.scripts.releaseBuyer(homeKeys, purchase.userId, purchase.reservation);
        return;
      }
    }
  }

  async returnUnit(sale: SaleStock, segment: number, orderId: string): Promise<boolean> {
    const outcome = await this.scripts.returnUnit(segmentKeys(sale.itemId, segment), orderId);
    if (outcome === 'missing') {
      void this.repairOnce(sale);
      return false;
    }
    if (outcome === 'returned') await this.unitIsBack(sale.itemId);
    return true;
  }

  private async unitIsBack(itemId: string): Promise<void> {
    await this.redis.del(itemKeys(itemId).soldOut);
    this.memory.forget(itemId);
  }

  async staleReservations(sale: SaleStock, before: number) {
    const stale = [];
    for (let segment = 0; segment < sale.segments; segment++) {
      const held = await this.redis.zrangebyscore(segmentKeys(sale.itemId, segment).held, '-inf', before);
      stale.push(...held.map((reservation) => ({ segment, reservation })));
    }
    return stale;
  }

  async remaining(sale: SaleStock): Promise<number> {
    // One GET per segment, not an MGET: the counters live in different slots on a Redis Cluster.
    const counters = await Promise.all(
      Array.from({ length: sale.segments }, (_, s) => this.redis.get(segmentKeys(sale.itemId, s).stock)),
    );
    return counters.reduce((sum, value) => sum + Number(value ?? 0), 0);
  }

  private repairThenBusy(sale: SaleStock): TakeResult {
    void this.repairOnce(sale);
    return { kind: 'busy' };
  }

  /** At most one repair per sale in flight in this process; errors are reported, the next caller tries again. */
  private repairOnce(sale: SaleStock): Promise<unknown> {
    const running = this.repairing.get(sale.itemId);
    if (running) return running;
    const repair = this.repair(sale)
      .catch((err) => this.options.onRepairError?.(sale.itemId, err))
      .finally(() => this.repairing.delete(sale.itemId));
    this.repairing.set(sale.itemId, repair);
    return repair;
  }

  /**
   * Reads every segment, then the ledger (in that order: a segment that did not change between the two reads is
   * described exactly by the ledger), then rebuilds the segments Redis lost and corrects the quiet ones that disagree.
   */
  async repair(sale: SaleStock): Promise<RepairReport> {
    const lock = itemKeys(sale.itemId).repair;
    const token = String(Math.random());
    if ((await this.redis.set(lock, token, 'PX', REPAIR_LOCK_TTL_MS, 'NX')) !== 'OK') {
      return { rebuilt: 0, corrected: 0 };
    }
    try {
      const states = await this.readSegments(sale);
      const ledger = await this.ledger.segments(sale.itemId);
      const rebuilt: number[] = [];
      let corrected = 0;
      for (const row of ledger) {
        const state = states[row.segment];
        const keys = segmentKeys(sale.itemId, row.segment);
        const forSale = row.capacity - row.active;
        if (state.counter === undefined) {
          if (await this.scripts.rebuildSegment(keys, forSale, row.owed)) rebuilt.push(row.segment);
        } else if (
          this.checkedByDatabase &&
          state.inFlight === 0 &&
          row.owed.length === 0 &&
          state.counter !== forSale &&
          (await this.scripts.resyncSegment(keys, state.ops, forSale))
        ) {
          corrected++;
        }
      }
      if (rebuilt.length) await this.restoreBuyers(sale, new Set(rebuilt));
      if (rebuilt.length || corrected) {
        await this.unitIsBack(sale.itemId);
        if (rebuilt.length) this.options.onRepair?.(sale.itemId, 'rebuilt', rebuilt.length);
        if (corrected) this.options.onRepair?.(sale.itemId, 'corrected', corrected);
      }
      return { rebuilt: rebuilt.length, corrected };
    } finally {
      await this.scripts.releaseLock(lock, token);
    }
  }

  /** The buyers shards of rebuilt segments went with them: write back every buyer the database knows there. */
  private async restoreBuyers(sale: SaleStock, shards: ReadonlySet<number>): Promise<void> {
    const byShard = new Map<number, string[]>();
    for (const buyer of await this.ledger.buyers(sale.itemId)) {
      const shard = homeSegment(buyer.userId, sale.segments);
      if (!shards.has(shard)) continue;
      const fields = byShard.get(shard) ?? [];
      fields.push(buyer.userId, buyer.reservation);
      byShard.set(shard, fields);
    }
    for (const [shard, fields] of byShard) {
      const key = segmentKeys(sale.itemId, shard).buyers;
      for (let i = 0; i < fields.length; i += 2 * BUYERS_CHUNK) {
        await this.redis.hset(key, ...fields.slice(i, i + 2 * BUYERS_CHUNK));
      }
    }
  }
}

interface HeldReservation {
  heldKey: string;
  reservation: string;
}

/** DataLoader's batch function: the reservations gathered in one tick, one ZREM per segment. */
function forgetReservationsOf(scripts: StockScripts) {
  return async (held: readonly HeldReservation[]): Promise<(void | Error)[]> => {
    const failed = new Map<string, Error>();
    await Promise.all(
      [...groupBy(held, (h) => h.heldKey)].map(([heldKey, group]) =>
        scripts
          .forgetReservations(
            heldKey,
            group.map((h) => h.reservation),
          )
          .catch((err: Error) => failed.set(heldKey, err)),
      ),
    );
    return held.map(({ heldKey }) => failed.get(heldKey));
  };
}

/** Spreads `stock` units over `segments` counters as evenly as possible (the first ones get the remainder). */
export function splitIntoSegments(stock: number, segments: number): number[] {
  const base = Math.floor(stock / segments);
  const extra = stock % segments;
  return Array.from({ length: segments }, (_, i) => base + (i < extra ? 1 : 0));
}
