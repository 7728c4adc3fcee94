// 64-bit, time-ordered order ids (timestamp · worker · sequence), as decimal strings for JSON. The worker part must
// differ between every process minting ids at the same time: it is WORKER_ID when configured, else leased from Redis
// (two containers can share a pid; they cannot share a lease).
import { randomBytes, randomInt } from 'node:crypto';
import { Snowflake } from '@sapphire/snowflake';
import type { RedisClient } from '../infra/redis';
import type { Logger } from '../infra/logger';

/** Custom epoch so the 41-bit timestamp lasts until the 2090s. */
const EPOCH = new Date('2024-01-01T00:00:00Z');
const WORKER_IDS = 1024;

export class IdGenerator {
  private readonly snowflake = new Snowflake(EPOCH);
  private workerId: bigint | undefined;
  private processId = 0n;

  constructor(workerId?: number) {
    if (workerId !== undefined) this.useWorker(workerId);
  }

  /** Sapphire splits the 10 machine bits into 5 "worker" + 5 "process" bits. */
  useWorker(workerId: number): void {
    this.workerId = BigInt(workerId >> 5);
    this.processId = BigInt(workerId & 31);
  }

  get hasWorker(): boolean {
    return this.workerId !== undefined;
  }

  next(): string {
    if (this.workerId === undefined) throw new Error('no worker id yet: lease one before minting ids');
    return this.snowflake.generate({ workerId: this.workerId, processId: this.processId }).toString();
  }
}

const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] or redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

const leaseKey = (workerId: number) => `sk:worker-id:${workerId}`;

/**
 * Leases a free worker id (SET NX with a TTL, renewed at a third of it) and keeps `ids` on it. If the lease is lost
 * to another process (Redis flushed, then taken), a new one is leased before the next renewal would be due.
 * Returns a stop function that gives the lease back.
 */
export async function leaseWorkerId(
  redis: RedisClient,
  ids: IdGenerator,
  log: Logger,
  ttlMs = 30_000,
): Promise<() => Promise<void>> {
  const token = randomBytes(12).toString('base64url');
  let current = await acquire(redis, token, ttlMs);
  ids.useWorker(current);
  log.info({ workerId: current }, 'worker id leased');
  const renew = async () => (await redis.eval(RENEW, 1, leaseKey(current), token, ttlMs)) === 1;
  const reacquire = async () => {
    current = await acquire(redis, token, ttlMs);
    ids.useWorker(current);
    log.warn({ workerId: current }, 'worker id lease was lost; leased another');
  };
  const timer = setInterval(() => {
    renew()
      .then((kept) => (kept ? undefined : reacquire()))
      .catch((err) => log.warn({ err }, 'worker id lease not renewed; retrying'));
  }, ttlMs / 3);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await redis.eval(
      `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
      1,
      leaseKey(current),
      token,
    );
  };
}

/** Random start so that processes starting together do not race for the same ids. */
async function acquire(redis: RedisClient, token: string, ttlMs: number): Promise<number> {
  const start = randomInt(WORKER_IDS);
  for (let i = 0; i < WORKER_IDS; i++) {
    const candidate = (start + i) % WORKER_IDS;
    if ((await redis.set(leaseKey(candidate), token, 'PX', ttlMs, 'NX')) === 'OK') return candidate;
  }
  throw new Error(`all ${WORKER_IDS} worker ids are leased`);
}
