// LockCombiner's rounds as pure logic: a segment in memory stands behind the two scripts, so the order of acquires
// and takes (who rides which round) is seen exactly. test/purchase/lock-combining.test.ts runs the real scripts.
import { LockCombiner, type LockRound } from '../../src/stock/lock-combining';
import type { Buyer, LockAcquire } from '../../src/stock/scripts';

/** A segment of `units` with a lock and a buyers shard; `log` lists the scripts as they were run. */
function memorySegment(units: number, lockAnswer: () => LockAcquire | Error = () => 'acquired') {
  const log: string[] = [];
  const claims = new Map<string, string>();
  let onTake = () => {};
  const claimOne = (b: Buyer) => {
    const owner = claims.get(b.userId);
    if (owner && owner !== b.reservation) return false;
    claims.set(b.userId, b.reservation);
    return true;
  };
  const round: LockRound = {
    async acquire(_token, toClaim, alreadyClaimed) {
      log.push(`acquire claiming [${toClaim.map((b) => b.userId)}] with ${alreadyClaimed} claimed`);
      const claimed = toClaim.map(claimOne);
      const lock = lockAnswer();
      if (lock instanceof Error) throw lock;
      return { lock, claimed };
    },
    async takeAndUnlock(_token, reservations) {
      log.push(`take [${reservations}]`);
      onTake();
      return reservations.map(() => (units-- > 0 ? 'taken' : 'empty'));
    },
    claim: async (b) => claimOne(b),
    async releaseLock() {
      log.push('release');
    },
  };
  return { round, log, duringTake: (f: () => void) => (onTake = f) };
}

const combiner = () => new LockCombiner(() => 'token');

test('riders queued during the acquire share its take; riders queued during the take get the next round, whose acquire follows the take', async () => {
  const { round, log, duringTake } = memorySegment(10);
  const c = combiner();
  const late: Promise<unknown>[] = [];
  duringTake(() => {
    if (!late.length) late.push(c.ride('lock', round, { reservation: 'r3' }));
  });
  const first = ['r0', 'r1', 'r2'].map((reservation) => c.ride('lock', round, { reservation }));
  void first[0].then(() => log.push('r0 answered'));

  expect(await Promise.all(first)).toEqual(['taken', 'taken', 'taken']);
  expect(await late[0]).toBe('taken');
  expect(log).toEqual([
    'acquire claiming [] with 1 claimed',
    'take [r0,r1,r2]',
    'acquire claiming [] with 1 claimed', // sent right behind the take, before its answer is back
    'r0 answered',
    'take [r3]',
  ]);
  await new Promise(setImmediate);
  expect(c.busy('lock')).toBe(false); // no round runs without riders
});

test('claims ride with the next acquire; a duplicate is answered and left out of the take', async () => {
  const { round, log } = memorySegment(10);
  const c = combiner();
  const answers = Promise.all([
    c.ride('lock', round, { reservation: 'a1', claim: { userId: 'a', reservation: 'a1' } }),
    c.ride('lock', round, { reservation: 'b1', claim: { userId: 'b', reservation: 'b1' } }),
    c.ride('lock', round, { reservation: 'a2', claim: { userId: 'a', reservation: 'a2' } }),
    c.ride('lock', round, { reservation: 'w' }), // a walker, already claimed on its own home segment
  ]);

  expect(await answers).toEqual(['taken', 'taken', 'duplicate', 'taken']);
  expect(log).toEqual([
    'acquire claiming [a] with 0 claimed',
    'take [a1,w]',
    'acquire claiming [b,a] with 0 claimed',
    'take [b1]',
  ]);
});

test("a lock held by another process or a failed acquire answers that round's riders only", async () => {
  const answers: (LockAcquire | Error)[] = ['contended', new Error('redis down'), 'acquired'];
  const { round, log } = memorySegment(10, () => answers.shift()!);
  const c = combiner();
  const first = c.ride('lock', round, { reservation: 'r0' });
  await Promise.resolve(); // r0's acquire is on its way
  const second = c.ride('lock', round, { reservation: 'r1' });

  expect(await first).toBe('contended');
  await expect(second).rejects.toThrow('redis down');
  expect(await c.ride('lock', round, { reservation: 'r2' })).toBe('taken');
  expect(log).toEqual([
    'acquire claiming [] with 1 claimed',
    'acquire claiming [] with 1 claimed',
    'release', // the failed acquire's lock, if it was taken
    'acquire claiming [] with 1 claimed',
    'take [r2]',
  ]);
});
