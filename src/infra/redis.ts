import { Redis } from 'ioredis';

/**
 * One ioredis connection. `maxRetriesPerRequest: null` is what BullMQ workers need; request-path clients keep a
 * bound so a Redis outage turns into errors instead of requests queued for ever.
 */
export function createRedis(url: string, options: { forBlockingWorker?: boolean } = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: options.forBlockingWorker ? null : 2,
    enableOfflineQueue: true,
    lazyConnect: false,
  });
}
