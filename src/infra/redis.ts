import { Cluster, Redis, type Command } from 'ioredis';
import type { RedisTarget } from '../config';

/** A single server's client or a Redis Cluster's: every key the service uses is slot-local, so both serve alike. */
export type RedisClient = Redis | Cluster;

/** Keeps a command through a failover: CLUSTERDOWN and lost masters are retried while a replica takes over. */
const FAILOVER_RETRY_MS = 200;
const FAILOVER_RETRIES = 50;

/**
 * The one place that decides between a single server and a cluster. `maxRetriesPerRequest: null` is what BullMQ
 * workers need; request-path clients keep a bound so a Redis outage turns into errors instead of requests queued
 * for ever. Request-path clients batch by tick: the commands that concurrent purchases issue in one event-loop tick
 * leave in one socket write per node (a crowd's claims, takes and settles would otherwise cost a syscall each), with
 * no change to their order or atomicity.
 */
export function createRedis(
  target: RedisTarget | string,
  options: { forBlockingWorker?: boolean } = {},
): RedisClient {
  const redisOptions = {
    maxRetriesPerRequest: options.forBlockingWorker ? null : 2,
    enableOfflineQueue: true,
  };
  const batchByTick = !options.forBlockingWorker;
  const { url, clusterNodes } =
    typeof target === 'string' ? { url: target, clusterNodes: undefined } : target;
  if (!clusterNodes) {
    const serverOptions = { ...redisOptions, lazyConnect: false };
    return batchByTick ? new TickBatchedRedis(url, serverOptions) : new Redis(url, serverOptions);
  }
  return new Cluster(
    clusterNodes.map((node) => {
      const [host, port] = node.split(':');
      return { host, port: Number(port) };
    }),
    {
      redisOptions,
      // A cluster's node connections are ioredis's own: its auto-pipelining batches them by tick.
      enableAutoPipelining: batchByTick,
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

/**
 * A single server's client whose commands issued in one event-loop tick leave in one socket write: the socket is
 * corked at the tick's first command and uncorked on the next tick, what node-redis does by default. Written here
 * rather than using ioredis's own enableAutoPipelining, which does the same by building a Pipeline object (a promise,
 * a command queue and a callback adapter) per tick: 64 concurrent scripts cost its client 12.6–17.7 µs of CPU per
 * command against 4.9–7.6 µs corked (the same loop, alternated, on a local redis-server); on the purchase path that
 * Pipeline was the largest item of the api process's Redis work.
 */
class TickBatchedRedis extends Redis {
  private corked = false;

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    if (!stream) this.corkUntilNextTick();
    return super.sendCommand(command, stream);
  }

  private corkUntilNextTick(): void {
    const socket = this.stream;
    if (this.corked || !socket?.writable) return;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }
}
