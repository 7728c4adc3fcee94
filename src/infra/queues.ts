// BullMQ queues and workers. Every queue and worker gets its own Redis connection: workers block on Redis and need
// `maxRetriesPerRequest: null`. BullMQ does not close a connection it was handed, so these classes close their own.
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis } from './redis';

export const QUEUES = {
  paymentTimeout: 'payment-timeout',
  cacheSecondDelete: 'cache-second-delete',
} as const;

class OwnConnectionQueue extends Queue {
  constructor(
    name: string,
    private readonly ownConnection: Redis,
  ) {
    super(name, { connection: ownConnection });
  }

  override async close(): Promise<void> {
    await super.close();
    await this.ownConnection.quit();
  }
}

export function createQueue(redisUrl: string, name: string): Queue {
  return new OwnConnectionQueue(name, createRedis(redisUrl, { forBlockingWorker: true }));
}

export function createWorker<T>(
  redisUrl: string,
  name: string,
  handle: (job: Job<T>) => Promise<unknown>,
  concurrency = 16,
): Worker<T> {
  const connection = createRedis(redisUrl, { forBlockingWorker: true });
  const worker = new Worker<T>(name, handle, { connection, concurrency });
  worker.on('closed', () => void connection.quit());
  return worker;
}
