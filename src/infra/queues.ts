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
