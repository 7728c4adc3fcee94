import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from '../config';

/** A single server's client or a Redis Cluster's: every key the service uses is slot-local, so both serve alike. */
export type RedisClient = Redis | Cluster;

/** Keeps a command through a failover: CLUSTERDOWN and lost masters are retried while a replica takes over. */
const FAILOVER_RETRY_MS = 200;
const FAILOVER_RETRIES = 50;

/**
 * The one place that decides between a single server and a cluster. `maxRetriesPerRequest: null` is what BullMQ
 * workers need; request-path clients keep a bound so a Redis outage turns into errors instead of requests queued
 * for ever. Request-path clients pipeline automatically: the commands that concurrent purchases issue in one
 * event-loop tick leave in one socket write per node (a crowd's claims, takes and settles would otherwise cost a
 * syscall each), with no change to their order or atomicity.
 */
export function createRedis(
  target: RedisTarget | string,
  options: { forBlockingWorker?: boolean } = {},
): RedisClient {
  const redisOptions = {
    maxRetriesPerRequest: options.forBlockingWorker ? null : 2,
    enableOfflineQueue: true,
  };
  const enableAutoPipelining = !options.forBlockingWorker;
  const { url, clusterNodes } =
    typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
  if (!clusterNodes) return new Redis(url, { ...redisOptions, lazyConnect: false, enableAutoPipelining });
  return new Cluster(
    clusterNodes.map((node) => {
      const [host, port] = node.split(':');
      return { host, port: Number(port) };
    }),
    {
      redisOptions,
      enableAutoPipelining,
      // The blocking worker waits out a failover for ever like it waits out a single server's outage.
      maxRedirections: options.forBlockingWorker ? Infinity : FAILOVER_RETRIES,
      retryDelayOnClusterDown: FAILOVER_RETRY_MS,
      retryDelayOnFailover: FAILOVER_RETRY_MS,
      retryDelayOnTryAgain: FAILOVER_RETRY_MS,
      // A promoted replica announces new slots: re-read the topology soon after a node goes away.
      slotsRefreshInterval: 1000,
    },
  );
}
