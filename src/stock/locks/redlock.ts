// redlock: Redlock (SET NX PX on every server, held when a majority said yes within the TTL) over REDLOCK_URLS,
// three or more Redis servers that share nothing, none of them the stock's Redis. Redlock has no fencing token of
// its own, so the holder draws one: INCR of the segment's counter on every server, token = the highest reply, then
// every server's counter raised to it, both on a majority, then the lock's validity checked again. Any later holder's
// majority shares a server with this one's, whose counter is already at this token, so its token is higher; a holder
// paused before the raise finds its lock expired and takes nothing.
import { Redlock, ResourceLockedError, ExecutionError, type Lock } from '@sesamecare-oss/redlock';
import { Redis } from 'ioredis';
import type { SegmentKeys } from '../keys';
import { readLua } from '../scripts';
import type { HeldLock, SegmentLock } from '../segment-takers';
import { LOCK_CALL_TIMEOUT_MS } from './deadline';

type FenceRedis = Redis & { raiseFenceCounter(key: string, value: string): Promise<number> };

export class RedlockSegmentLock implements SegmentLock {
  private readonly servers: FenceRedis[];
  private readonly redlock: Redlock;
  private readonly majority: number;

  constructor(
    urls: string[],
    private readonly leaseMs: number,
  ) {
    this.servers = urls.map((url) => {
      // A command timeout: a server that is down is a vote against within a second, never a wait for ever.
      const server = new Redis(url, { maxRetriesPerRequest: 0, commandTimeout: LOCK_CALL_TIMEOUT_MS });
      server.on('error', () => undefined); // reconnects by itself; the votes report the outage
      server.defineCommand('raiseFenceCounter', { numberOfKeys: 1, lua: readLua('raiseFenceCounter') });
      return server as FenceRedis;
    });
    this.majority = Math.floor(urls.length / 2) + 1;
    this.redlock = new Redlock(this.servers, { retryCount: 0, driftFactor: 0.01 });
    this.redlock.on('error', () => undefined); // every failed vote is emitted here; acquire() reports the outcome
  }

  async acquire(keys: SegmentKeys): Promise<HeldLock | undefined> {
    let lock: Lock;
    try {
      lock = await this.redlock.acquire([`${keys.lock}:redlock`], this.leaseMs);
    } catch (err) {
      if (await lockedByAnother(err)) return undefined;
      throw err;
    }
    const release = () => lock.release().then(noop, noop);
    try {
      const counter = `${keys.lock}:redlock-fence`;
      const token = await this.drawToken(counter);
      if (Date.now() >= lock.expiration) {
        await release(); // paused past the TTL while drawing the token: the lock may be someone else's now
        return undefined;
      }
      return { token, release, lostTo: (highest) => this.raiseAll(counter, highest) };
    } catch (err) {
      await release();
      throw err;
    }
  }

  private async drawToken(counter: string): Promise<bigint> {
    const drawn = await this.onMajority('INCR', (server) => server.incr(counter));
    const token = drawn.reduce((max, value) => (BigInt(value) > max ? BigInt(value) : max), 0n);
    await this.onMajority('raise', (server) => server.raiseFenceCounter(counter, token.toString()));
    return token;
  }

  /** After a server came back empty its counter is behind the fence: bring every counter up to the fence. */
  private async raiseAll(counter: string, highest: bigint): Promise<void> {
    await Promise.allSettled(this.servers.map((s) => s.raiseFenceCounter(counter, highest.toString())));
  }

  /** Resolves with the first majority of replies (a server that is down does not hold the others up). */
  private onMajority<T>(what: string, command: (server: FenceRedis) => Promise<T>): Promise<T[]> {
    const total = this.servers.length;
    return new Promise((resolve, reject) => {
      const ok: T[] = [];
      let failed = 0;
      for (const server of this.servers) {
        command(server).then(
          (value) => {
            ok.push(value);
            if (ok.length === this.majority) resolve([...ok]);
          },
          () => {
            if (++failed === total - this.majority + 1)
              reject(new Error(`redlock ${what}: no majority of ${total} servers answered`));
          },
        );
      }
    });
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.servers.map((server) => server.quit()));
  }
}

const noop = () => undefined;

/** The majority was not reached because servers said "locked", not because they could not be asked. */
async function lockedByAnother(err: unknown): Promise<boolean> {
  if (!(err instanceof ExecutionError)) return false;
  const attempts = await Promise.all(err.attempts);
  return attempts.some((stats) =>
    [...stats.votesAgainst.values()].some((e) => e instanceof ResourceLockedError),
  );
}
