// Child of the fencing tests: takes one unit from a segment through a lock strategy's real lock and fenced take
// (externalLockTaker), pausing while it holds the lock so the parent can SIGSTOP it there. Prints one JSON line when
// it holds the lock ({held: token}) and one with the take's result ({take}).
// argv: <strategy> <itemId> <segment> <reservation>; the environment configures the lock services as for the service.
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../../src/config';
import { createRedis } from '../../../src/infra/redis';
import { createSegmentLock, type LockStrategyName } from '../../../src/stock';
import { segmentKeys } from '../../../src/stock/keys';
import { StockScripts } from '../../../src/stock/scripts';
import { externalLockTaker } from '../../../src/stock/segment-takers';

/** Long enough for the parent to stop this process while it holds the lock, even on a busy machine. */
const HOLD_MS = 3000;

async function main() {
  const [strategy, itemId, segment, reservation] = process.argv.slice(2);
  const config = loadConfig();
  const lock = createSegmentLock(strategy as LockStrategyName, config.stock.locks);
  if (typeof lock === 'string') throw new Error(lock);
  const redis = createRedis(config.redis);
  const taker = externalLockTaker(new StockScripts(redis), lock, {
    async whileHeld(token) {
      process.stdout.write(JSON.stringify({ held: token.toString() }) + '\n');
      await sleep(HOLD_MS);
    },
  });
  const take = await taker.take(segmentKeys(itemId, Number(segment)), reservation);
  process.stdout.write(JSON.stringify({ take }) + '\n');
  await lock.close();
  await redis.quit();
  process.exit(0); // a client library's reconnect timer must not keep a finished holder alive
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
