// Protection from the crowd: per-user and per-IP rate limits kept in Redis (shared by every API process), and load
// shedding: past a bound of requests in flight, answer "busy" at once instead of queueing without bound.
import type { RedisClient } from '../infra/redis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

export interface ProtectionConfig {
  /** Purchases per user per second; 0 disables. */
  userPerSec: number;
  /** Purchases per client IP per second; 0 disables (load generators often share one IP). */
  ipPerSec: number;
  /** /seckill requests in flight in this process before new ones are shed; 0 disables. */
  maxInFlight: number;
}

export interface Protection {
  /** false when the user or the IP is over its rate. */
  allow(userId: string, ip: string): Promise<boolean>;
  /**
   * Past maxInFlight requests in flight: undefined (shed it, answer busy). Otherwise the request is counted until
   * `done` runs: the route calls it when its work is over, which an aborted connection does not cut short.
   */
  enter(): { done(): void } | undefined;
}

function limiter(redis: RedisClient, prefix: string, perSec: number): RateLimiterRedis | undefined {
  return perSec > 0
    ? new RateLimiterRedis({ storeClient: redis, keyPrefix: prefix, points: perSec, duration: 1 })
    : undefined;
}

/** true when allowed; a Redis failure allows (the purchase itself will then fail or succeed on its own merits). */
async function consume(limit: RateLimiterRedis | undefined, key: string): Promise<boolean> {
  if (!limit) return true;
  try {
    await limit.consume(key);
    return true;
  } catch (err) {
    return !(err instanceof RateLimiterRes);
  }
}

const ALWAYS_ADMITTED = { done: () => undefined };

export function createProtection(redis: RedisClient, config: ProtectionConfig): Protection {
  const perUser = limiter(redis, 'sk:rl:user', config.userPerSec);
  const perIp = limiter(redis, 'sk:rl:ip', config.ipPerSec);
  let inFlight = 0;
  return {
    async allow(userId, ip) {
      const [userOk, ipOk] = await Promise.all([consume(perUser, userId), consume(perIp, ip)]);
      return userOk && ipOk;
    },
    enter() {
      if (config.maxInFlight === 0) return ALWAYS_ADMITTED;
      if (inFlight >= config.maxInFlight) return undefined;
      inFlight++;
      return { done: () => void inFlight-- };
    },
  };
}
