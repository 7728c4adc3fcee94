// Combining under a segment lock (flat combining): the buyers of one process who want a segment that process is
// locking ride with the lock's holder instead of skipping the segment or waiting for it. The lock stays a real one,
// held across a round trip between two scripts (the acquire, then the fenced take that releases it), but one acquire
// and one take serve up to RIDERS_PER_TAKE buyers of the process, in arrival order. While riders wait, the next
// round's acquire is sent right behind the take, so a busy segment's rounds follow each other a round trip apart.
// Between processes nothing changes: the Redis lock is the one that counts, and another process's buyers find it held.
import type { Buyer, ClaimTake, ClaimsAndLock, SegmentTake } from './scripts';

/**
 * Most buyers one round serves (and most that may wait for a segment's next round): one take script stays short,
 * and a buyer who finds that many already waiting walks on to another segment ('contended') rather than queue.
 */
export const RIDERS_PER_TAKE = 64;

/** A buyer asking for a unit of one segment; `claim` is set while its claim is still to be made (home segment). */
export interface Rider {
  reservation: string;
  claim?: Buyer;
}

/** The scripts of one round on one segment (segment-takers.ts binds them to the segment's keys). */
export interface LockRound {
  /** Locks the segment for this round; the claims of `toClaim` ride with the acquire. */
  acquire(token: string, toClaim: readonly Buyer[], alreadyClaimed: number): Promise<ClaimsAndLock>;
  /**
   * One unit per reservation, in order, under the lock of `token`, which it releases; one answer each. Sends its
   * script before it returns: the next round's acquire, sent right after it, must reach Redis behind it.
   */
  takeAndUnlock(token: string, reservations: readonly string[]): Promise<SegmentTake[]>;
  /** The claim alone, for a buyer who walks on from its home segment without riding it. */
  claim(buyer: Buyer): Promise<boolean>;
  /** Compare-and-delete, for a take whose answer was lost. Never throws (the lock is left to its TTL). */
  releaseLock(token: string): Promise<void>;
}

interface Waiting extends Rider {
  answer(take: ClaimTake): void;
  fail(err: unknown): void;
}

/** The riders of one segment, in arrival order; present in `queues` only while a round of it is running. */
type Queue = Waiting[];

export class LockCombiner {
  private readonly queues = new Map<string, Queue>();

  /**
   * @param newToken  a lock token per round, never used before by any holder
   * @param roundEnded  called after every round (a buyer waiting for a release may look again)
   */
  constructor(
    private readonly newToken: () => string,
    private readonly roundEnded: () => void = () => undefined,
  ) {}

  /**
   * Rides the next round on the segment locked under `lockKey`, starting one if none is running. Answers 'duplicate'
   * when the rider's claim found another reservation of its user, 'contended' when the lock is held by another
   * process or RIDERS_PER_TAKE buyers already wait; whatever else it answers, a rider whose claim was to be made is
   * claimed, unless told 'duplicate' or 'missing'.
   */
  ride(lockKey: string, round: LockRound, rider: Rider): Promise<ClaimTake> {
    const running = this.queues.get(lockKey);
    const queue = running ?? [];
    if (queue.length >= RIDERS_PER_TAKE) return walkOn(round, rider);
    // One object shape for every rider (claim or none): a crowd's riders keep the code that reads them monomorphic.
    const answer = new Promise<ClaimTake>((answer, fail) =>
      queue.push({ reservation: rider.reservation, claim: rider.claim, answer, fail }),
    );
    if (!running) void this.runRounds(lockKey, queue, round);
    return answer;
  }

  /** Whether a round is running on this segment (a buyer riding now may wait for the next one). */
  busy(lockKey: string): boolean {
    return this.queues.has(lockKey);
  }

  /**
   * Rounds follow one another while riders wait: those who came too late for a round are served by the next, whose
   * acquire is sent right behind the take (see oneRound).
   */
  private async runRounds(lockKey: string, queue: Queue, round: LockRound): Promise<void> {
    this.queues.set(lockKey, queue);
    try {
      let acquiring: Acquiring | undefined = this.sendAcquire(queue, round);
      while (acquiring) {
        acquiring = await this.oneRound(queue, round, acquiring);
        this.roundEnded();
        if (!acquiring && queue.length) acquiring = this.sendAcquire(queue, round);
      }
    } finally {
      this.queues.delete(lockKey);
    }
  }

  /** A round's acquire, for every rider queued now; those with a claim to make are claimed by it. */
  private sendAcquire(queue: Queue, round: LockRound): Acquiring {
    const token = this.newToken();
    const riders = queue.slice();
    const toClaim = riders.filter((r) => r.claim);
    const answer = round.acquire(
      token,
      toClaim.map((r) => r.claim!),
      riders.length - toClaim.length,
    );
    // Handled in oneRound, which may first wait for the previous round's take: not an unhandled rejection meanwhile.
    answer.catch(() => undefined);
    return { token, riders, toClaim, answer };
  }

  /**
   * The acquire's answer; if locked, one take for every claimed rider queued by now (those who came during the
   * acquire included) and, sent right behind it on the same connection, the next round's acquire for the riders
   * still waiting: Redis runs it after the take released the lock, so the next round's lock is taken while this
   * round's answer travels back (each lock is still held across its own round trip). Returns that next acquire.
   * Never throws: a failure is every concerned rider's answer.
   */
  private async oneRound(
    queue: Queue,
    round: LockRound,
    acquiring: Acquiring,
  ): Promise<Acquiring | undefined> {
    const { token, riders, toClaim } = acquiring;
    let acquired: ClaimsAndLock;
    try {
      acquired = await acquiring.answer;
    } catch (err) {
      // A lost answer may hide a lock taken: released now, so the next round does not find it held until its TTL.
      await round.releaseLock(token);
      failAll(remove(queue, riders), err);
      return undefined;
    }
    settleClaims(queue, toClaim, acquired);
    if (acquired.lock === 'nobody') return undefined; // every rider to claim was a duplicate; nobody else waited
    if (acquired.lock !== 'acquired') {
      for (const rider of remove(queue, riders)) rider.answer(acquired.lock);
      return undefined;
    }
    const batch = remove(queue, queue.filter((r) => !r.claim).slice(0, RIDERS_PER_TAKE));
    const take = round.takeAndUnlock(
      token,
      batch.map((r) => r.reservation),
    );
    const next = queue.length ? this.sendAcquire(queue, round) : undefined;
    await answerTake(round, token, batch, take);
    return next;
  }
}

/** A round's acquire on its way: its token, the riders queued when it was sent, and its answer. */
interface Acquiring {
  token: string;
  riders: Waiting[];
  toClaim: Waiting[];
  answer: Promise<ClaimsAndLock>;
}

/** Each rider of the take hears its own answer, in the order the take served them. */
async function answerTake(
  round: LockRound,
  token: string,
  batch: readonly Waiting[],
  take: Promise<SegmentTake[]>,
): Promise<void> {
  let takes: SegmentTake[];
  try {
    takes = await take;
  } catch (err) {
    // The answer is lost, not necessarily the take: the units it took stay held under their reservations (the
    // sweep of stale reservations gives them back) and the lock, if still ours, is released now, not at its TTL.
    await round.releaseLock(token);
    failAll(batch, err);
    return;
  }
  batch.forEach((rider, i) => rider.answer(takes[i]));
}

/** A full segment is skipped ('contended'), but a buyer leaves its home segment claimed, as if it had ridden. */
async function walkOn(round: LockRound, rider: Rider): Promise<ClaimTake> {
  if (rider.claim && !(await round.claim(rider.claim))) return 'duplicate';
  return 'contended';
}

/** Claims made by the acquire: a duplicate is answered now; a claimed rider waits for the take like any other. */
function settleClaims(queue: Queue, toClaim: readonly Waiting[], acquired: ClaimsAndLock): void {
  if (acquired.lock === 'missing') return; // nothing was claimed: the rider is answered 'missing' with the rest
  toClaim.forEach((rider, i) => {
    if (acquired.claimed[i]) {
      rider.claim = undefined;
    } else {
      remove(queue, [rider]);
      rider.answer('duplicate');
    }
  });
}

/** Takes `riders` out of `queue` and returns those that were still in it (in `riders`' order). */
function remove(queue: Queue, riders: readonly Waiting[]): Waiting[] {
  const inQueue = new Set(queue);
  const leaving = riders.filter((r) => inQueue.has(r));
  const gone = new Set(leaving);
  queue.splice(0, queue.length, ...queue.filter((r) => !gone.has(r)));
  return leaving;
}

function failAll(riders: readonly Waiting[], err: unknown): void {
  for (const rider of riders) rider.fail(err);
}
