import { Redis } from 'ioredis';

/**
 * One ioredis connection. `maxRetriesPerRequest: null` is what BullMQ workers need; request-path clients keep a
 * bound so a Redis outage turns into errors instead of requests queued for ever. The request-path client pipelines
 * automatically: the commands that concurrent purchases issue in one event-loop tick leave in one socket write (a
 * crowd's claims, takes and settles would otherwise cost a syscall each), with no change to their order or atomicity.
 */
export function createRedis(url: string, options: { forBlockingWorker?: boolean } = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: options.forBlockingWorker ? null : 2,
    enableOfflineQueue: true,
    lazyConnect: false,
    enableAutoPipelining: !options.forBlockingWorker,
  });
}
