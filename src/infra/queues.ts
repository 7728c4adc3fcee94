// BullMQ queues and workers. Every queue and worker gets its own Redis connection: workers block on Redis and need
// `maxRetriesPerRequest: null`. BullMQ does not close a connection it was handed, so close() here does both.
import { Queue, Worker, type Job } from 'bullmq';
import { createRedis } from './redis';

export const QUEUES = {
  paymentTimeout: 'payment-timeout',
  cacheSecondDelete: 'cache-second-delete',
} as const;

export interface Closable {
  close(): Promise<void>;
}

export function createQueue(redisUrl: string, name: string): Queue & Closable {
  const connection = createRedis(redisUrl, { forBlockingWorker: true });
  const queue = new Queue(name, { connection });
  const closeQueue = queue.close.bind(queue);
  queue.close = async () => {
    await closeQueue();
    await connection.quit();
  };
  return queue;
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
