// BullMQ queues and workers. Every queue and worker gets its own Redis connection: workers block on Redis and need
// `maxRetriesPerRequest: null`. BullMQ does not close a connection it was handed, so these classes close their own.
import { Queue, Worker, type Job } from 'bullmq';
import type { RedisTarget } from '../config';
import { createRedis, type RedisClient } from './redis';

export const QUEUES = {
  paymentTimeout: 'payment-timeout',
  cacheSecondDelete: 'cache-second-delete',
} as const;

/** BullMQ's scripts touch many keys of a queue: the hash tag keeps them in one slot on a Redis Cluster. */
const PREFIX = '{bull}';

class OwnConnectionQueue extends Queue {
  constructor(
    name: string,
    private readonly ownConnection: RedisClient,
  ) {
    super(name, { connection: ownConnection, prefix: PREFIX });
  }

  override async close(): Promise<void> {
    await super.close();
    await this.ownConnection.quit();
  }
}

export function createQueue(redis: RedisTarget, name: string): Queue {
  return new OwnConnectionQueue(name, createRedis(redis, { forBlockingWorker: true }));
}

export function createWorker<T>(
  redis: RedisTarget,
  name: string,
  handle: (job: Job<T>) => Promise<unknown>,
  concurrency = 16,
): Worker<T> {
  const connection = createRedis(redis, { forBlockingWorker: true });
  const worker = new Worker<T>(name, handle, { connection, concurrency, prefix: PREFIX });
  worker.on('closed', () => void connection.quit());
  return worker;
}

export interface DueJob<T> {
  /** Jobs of different keys never coalesce (e.g. one item's cache key). */
  key: string;
  delayMs: number;
  data: T;
}

/**
 * Delayed jobs that coalesce by due time: at most one job per key and `bucketMs` of due times, due at the end of its
 * bucket (never before what it stands for). Its id names key and bucket, so a copy added by another process adds
 * nothing; this process does not even ask Redis again for a bucket it already added. Each costs BullMQ a script, a
 * hash and events in Redis: per order or per batch, that cost more than the purchase itself. Handlers must act on
 * whatever is due when they run.
 */
export class CoalescedDelayedJobs<T extends object> {
  /** Job ids added by this process, with their due time; forgotten once due. */
  private readonly added = new Map<string, number>();

  constructor(
    private readonly queue: Queue,
    private readonly name: string,
    private readonly bucketMs: number,
    private readonly options: { attempts?: number } = {},
  ) {}

  async add(jobs: DueJob<T>[]): Promise<void> {
    const now = Date.now();
    for (const [id, due] of this.added) if (due <= now) this.added.delete(id);
    const fresh = new Map<string, { due: number; data: T }>();
    for (const job of jobs) {
      const due = Math.ceil((now + job.delayMs) / this.bucketMs) * this.bucketMs;
      const id = `${this.name}-${job.key}-${due}`;
      if (!this.added.has(id)) fresh.set(id, { due, data: job.data });
    }
    if (!fresh.size) return;
    for (const [id, { due }] of fresh) this.added.set(id, due);
    await this.queue.addBulk(
      [...fresh].map(([jobId, { due, data }]) => ({
        name: this.name,
        data,
        opts: { delay: due - now, jobId, removeOnComplete: true, removeOnFail: 1000, ...this.options },
      })),
    );
  }
}
