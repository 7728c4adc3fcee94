// Item reads through a Redis cache (cache-aside). A miss is rebuilt by one reader at a time under a short mutex, so a
// hot key's expiry does not stampede PostgreSQL; unknown ids are cached as "missing" briefly. Writers invalidate with
// a delayed double delete: delete, write the database, delete again later (a BullMQ delayed job) to evict a value a
// slow reader may have cached from before the write.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { CoalescedDelayedJobs } from '../infra/queues';
import type { RedisClient } from '../infra/redis';
import type { Db } from '../infra/prisma';
import type { Metrics } from '../metrics/registry';

export interface CachedItem {
  itemId: string;
  name: string;
  initialStock: number;
  stock: number;
  segments: number;
  strategy: string;
  startsAt: string | null;
  endsAt: string | null;
  paymentTimeoutMs: number;
}

export interface ItemCacheOptions {
  ttlMs: number;
  missingTtlMs: number;
  secondDeleteDelayMs: number;
}

const MISSING = 'missing';
const REBUILD_LOCK_MS = 500;
const WAIT_FOR_REBUILD_MS = 5;
const WAIT_ROUNDS = 40;

export const cacheKey = (itemId: string) => `sk:{i${itemId}}:item`;
const rebuildLockKey = (itemId: string) => `sk:{i${itemId}}:item:rebuild`;

/** Second deletes of one item due within this long share one job (due at the end of it, never earlier). */
const SECOND_DELETE_BUCKET_MS = 100;

export class ItemCache {
  private readonly secondDeletes: CoalescedDelayedJobs<{ itemId: string }>;

  constructor(
    private readonly redis: RedisClient,
    private readonly db: Db,
    secondDeleteQueue: Queue,
    private readonly metrics: Metrics,
    private readonly options: ItemCacheOptions,
  ) {
    this.secondDeletes = new CoalescedDelayedJobs(
      secondDeleteQueue,
      'second-delete',
      SECOND_DELETE_BUCKET_MS,
    );
  }

  /** undefined = no such item. */
  async get(itemId: string): Promise<CachedItem | undefined> {
    for (let round = 0; round < WAIT_ROUNDS; round++) {
      const cached = await this.redis.get(cacheKey(itemId));
      if (cached !== null) return cached === MISSING ? undefined : (JSON.parse(cached) as CachedItem);
      if (await this.redis.set(rebuildLockKey(itemId), '1', 'PX', REBUILD_LOCK_MS, 'NX')) {
        try {
          return await this.rebuild(itemId);
        } finally {
          await this.redis.del(rebuildLockKey(itemId));
        }
      }
      await sleep(WAIT_FOR_REBUILD_MS); // someone else is rebuilding: wait for their value
    }
    return this.rebuild(itemId); // the rebuilder is stuck: read the database rather than fail
  }

  private async rebuild(itemId: string): Promise<CachedItem | undefined> {
    this.metrics.cacheDbReads.inc();
    const row = await this.db.item.findUnique({ where: { id: BigInt(itemId) } });
    if (!row) {
      await this.redis.set(cacheKey(itemId), MISSING, 'PX', this.options.missingTtlMs);
      return undefined;
    }
    const item: CachedItem = {
      itemId,
      name: row.name,
      initialStock: row.initialStock,
      stock: row.stock,
      segments: row.segments,
      strategy: row.strategy,
      startsAt: row.startsAt?.toISOString() ?? null,
      endsAt: row.endsAt?.toISOString() ?? null,
      paymentTimeoutMs: row.paymentTimeoutMs,
    };
    // Jitter spreads the expiry of keys cached together, so they are not all rebuilt in the same instant.
    const ttl = Math.round(this.options.ttlMs * (0.9 + Math.random() * 0.2));
    await this.redis.set(cacheKey(itemId), JSON.stringify(item), 'PX', ttl);
    return item;
  }

  async deleteFirst(itemIds: string[]): Promise<void> {
    if (!itemIds.length) return;
    // One DEL per item: each item's key has its own hash tag, so on a Redis Cluster they are in different slots.
    await Promise.all(itemIds.map((itemId) => this.redis.del(cacheKey(itemId))));
    this.metrics.cacheDeletes.inc({ phase: 'first' }, itemIds.length);
  }

  async scheduleSecondDelete(itemIds: string[]): Promise<void> {
    if (!itemIds.length) return;
    await this.secondDeletes.add(
      itemIds.map((itemId) => ({ key: itemId, delayMs: this.options.secondDeleteDelayMs, data: { itemId } })),
    );
  }

  /** The BullMQ job's work. */
  async deleteSecond(itemId: string): Promise<void> {
    await this.redis.del(cacheKey(itemId));
    this.metrics.cacheDeletes.inc({ phase: 'second' });
  }
}
