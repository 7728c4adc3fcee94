// Who got the units: the order buyers reached the service against the order it granted them units. Without a
// waiting room the fastest connection wins, whoever came first; these figures say by how much.
import { jStat } from 'jstat';

export interface Fairness {
  /**
   * Kendall's rank correlation between arrival order and grant order, over the buyers who got a unit: 1 when units
   * were granted exactly in arrival order, 0 when the two orders are unrelated, -1 when reversed. null below 2.
   */
  kendallTau: number | null;
  /** Of the first S distinct buyers to arrive (S = the stock), the share who got a unit. null with no buyer. */
  firstComersServed: number | null;
}

/**
 * `arrivals`: distinct buyers in the order their first request left the load generator (the edge); `grants`: the
 * buyers answered `ordered`, in the order the answers came. A buyer granted twice (an oversell) counts at the first.
 */
export function fairnessOf(arrivals: readonly string[], grants: readonly string[], stock: number): Fairness {
  const arrivalRank = new Map(arrivals.map((userId, rank) => [userId, rank]));
  const granted = [...new Set(grants)].filter((userId) => arrivalRank.has(userId));
  const firstComers = arrivals.slice(0, stock);
  const grantedSet = new Set(granted);
  return {
    kendallTau: kendallTau(granted.map((userId) => arrivalRank.get(userId)!)),
    firstComersServed: firstComers.length
      ? firstComers.filter((userId) => grantedSet.has(userId)).length / firstComers.length
      : null,
  };
}

/**
 * Kendall's tau of a sequence of distinct values against its own positions: (concordant − discordant) / pairs, with
 * the discordant pairs counted as the inversions of a merge sort, O(n log n) (a crowd grants tens of thousands of
 * units; the O(n²) definition would be billions of pairs). Written here because neither simple-statistics nor jStat
 * has Kendall's tau (they stop at Pearson and Spearman). Without ties tau-a and tau-b are the same.
 */
export function kendallTau(values: readonly number[]): number | null {
  const n = values.length;
  if (n < 2) return null;
  const pairs = (n * (n - 1)) / 2;
  const discordant = countInversions([...values]);
  return (pairs - 2 * discordant) / pairs;
}

/** Pairs i < j with values[i] > values[j]; sorts `values` in place. */
function countInversions(values: number[]): number {
  const scratch = new Array<number>(values.length);
  let inversions = 0;
  for (let width = 1; width < values.length; width *= 2) {
    for (let lo = 0; lo < values.length; lo += 2 * width) {
      const mid = Math.min(lo + width, values.length);
      const hi = Math.min(lo + 2 * width, values.length);
      let left = lo;
      let right = mid;
      let out = lo;
      while (left < mid && right < hi) {
        if (values[left] <= values[right]) scratch[out++] = values[left++];
        else {
          inversions += mid - left; // every value still on the left is greater than this one
          scratch[out++] = values[right++];
        }
      }
      while (left < mid) scratch[out++] = values[left++];
      while (right < hi) scratch[out++] = values[right++];
      for (let i = lo; i < hi; i++) values[i] = scratch[i];
    }
  }
  return inversions;
}

/**
 * A lottery's uniformity: whether each group of entrants (say, the pre-queue's arrival-time buckets) won at the same
 * rate. Pearson's χ² test of the wins per group against wins spread in proportion to the entrants; the p-value
 * (jStat's χ² CDF) is the chance of a spread at least this uneven under a fair draw: small means unfair. null when
 * fewer than two groups have entrants or nobody won.
 */
export function uniformityP(groups: readonly { entrants: number; wins: number }[]): number | null {
  const used = groups.filter((group) => group.entrants > 0);
  const entrants = used.reduce((sum, group) => sum + group.entrants, 0);
  const wins = used.reduce((sum, group) => sum + group.wins, 0);
  if (used.length < 2 || wins === 0) return null;
  const statistic = used.reduce((sum, group) => {
    const expected = (wins * group.entrants) / entrants;
    return sum + (group.wins - expected) ** 2 / expected;
  }, 0);
  return 1 - jStat.chisquare.cdf(statistic, used.length - 1);
}

// ---------------------------------------------------------------------------------------------------------------
// The figures of `--compare-admission`: one sale per admission mode to the same crowd of visitors (visitors.ts).

/** What fairness figures need of one visitor's account (a VisitorRecord has all of it). */
export interface AccountRecord {
  userId: string;
  kind: 'patient' | 'impatient' | 'bot';
  /** The account's first request left the load generator, ms from the crowd's start. */
  arrivedAtMs: number;
  /** Room modes: the visitor received its pass, ms from the crowd's start. */
  admittedAtMs?: number;
  /** Room modes: the room's admission time (epoch ms) and the ticket, which order the room's grants. */
  admissionAt?: number;
  ticket?: number;
  /** Set when the account was answered `ordered`, ms from the crowd's start. */
  orderedAtMs?: number;
  /** The room said sold out before admitting this visitor. */
  toldSoldOutWaiting: boolean;
}

export interface AdmissionFairness extends Fairness {
  /**
   * random: χ² p-value (uniformityP) of the units won per arrival-time bucket of the pre-queue, against the
   * entrants of each bucket; null in the other modes (or with too few buckets or no winner).
   */
  randomUniformityP: number | null;
  /** Time in the queue, join sent → pass received (as the visitor saw it, so it includes the poll interval). */
  queueP50Ms: number | null;
  queueP99Ms: number | null;
  /** Visitors the room told sold out while they waited; null without a room. */
  toldSoldOutWhileWaiting: number | null;
  /** Latency of every POST /seckill of the run. */
  purchaseP99Ms: number | null;
  /** Accounts and units won per kind of visitor (bots own several accounts each). */
  byKind: Record<AccountRecord['kind'], { accounts: number; units: number }>;
}

export interface AdmissionFairnessInput {
  mode: 'off' | 'fifo' | 'random';
  stock: number;
  records: readonly AccountRecord[];
  purchaseLatencies: readonly number[];
  /** random: the sale's start, ms from the crowd's start: visitors who arrived before it are the pre-queue. */
  preQueueEndsAtMs?: number;
  /** random: the pre-queue's arrival window is cut into this many equal buckets. */
  buckets?: number;
}

export const UNIFORMITY_BUCKETS = 5;

/**
 * The order the units were granted in. Off: the order of the `ordered` answers. A room: the order the room admitted
 * the buyers who got a unit (its admission time, then ticket: fifo pops the lowest ticket first), because there the
 * grant is the pass; the purchase follows within one poll of the visitor, whose phase would otherwise reorder it.
 */
export function grantOrder(mode: AdmissionFairnessInput['mode'], records: readonly AccountRecord[]) {
  const granted = records.filter((record) => record.orderedAtMs !== undefined);
  if (mode === 'off') return granted.sort((a, b) => a.orderedAtMs! - b.orderedAtMs!);
  return granted.sort(
    (a, b) =>
      (a.admissionAt ?? Infinity) - (b.admissionAt ?? Infinity) ||
      (a.ticket ?? Infinity) - (b.ticket ?? Infinity) ||
      a.orderedAtMs! - b.orderedAtMs!,
  );
}

/** The fairness figures of one run, and each grant's arrival rank in grant order (the report's scatter chart). */
export function admissionFairnessOf(input: AdmissionFairnessInput): {
  fairness: AdmissionFairness;
  arrivalRankByGrant: number[];
} {
  const { mode, records } = input;
  const arrivals = [...records].sort((a, b) => a.arrivedAtMs - b.arrivedAtMs).map((record) => record.userId);
  const grants = grantOrder(mode, records).map((record) => record.userId);
  const arrivalRank = new Map(arrivals.map((userId, rank) => [userId, rank]));
  const room = mode !== 'off';
  const queue = Float64Array.from(
    records.filter((r) => r.admittedAtMs !== undefined).map((r) => r.admittedAtMs! - r.arrivedAtMs),
  ).sort();
  const latencies = Float64Array.from(input.purchaseLatencies).sort();
  const byKind = {
    patient: { accounts: 0, units: 0 },
    impatient: { accounts: 0, units: 0 },
    bot: { accounts: 0, units: 0 },
  };
  for (const record of records) {
    byKind[record.kind].accounts++;
    if (record.orderedAtMs !== undefined) byKind[record.kind].units++;
  }
  return {
    fairness: {
      ...fairnessOf(arrivals, grants, input.stock),
      randomUniformityP: mode === 'random' ? preQueueUniformity(input) : null,
      queueP50Ms: room && queue.length ? nearestRank(queue, 50) : null,
      queueP99Ms: room && queue.length ? nearestRank(queue, 99) : null,
      toldSoldOutWhileWaiting: room ? records.filter((r) => r.toldSoldOutWaiting).length : null,
      purchaseP99Ms: latencies.length ? nearestRank(latencies, 99) : null,
      byKind,
    },
    arrivalRankByGrant: grants.map((userId) => arrivalRank.get(userId)!),
  };
}

/** χ² over the pre-queue's arrival-time buckets: entrants who arrived in each, and how many of them won a unit. */
export function preQueueUniformity(input: AdmissionFairnessInput): number | null {
  const end = input.preQueueEndsAtMs;
  if (end === undefined || !(end > 0)) return null;
  const buckets = input.buckets ?? UNIFORMITY_BUCKETS;
  const groups = Array.from({ length: buckets }, () => ({ entrants: 0, wins: 0 }));
  for (const record of input.records) {
    if (record.arrivedAtMs >= end) continue;
    const group = groups[Math.min(buckets - 1, Math.floor((record.arrivedAtMs / end) * buckets))];
    group.entrants++;
    if (record.orderedAtMs !== undefined) group.wins++;
  }
  return uniformityP(groups);
}

function nearestRank(sortedAscending: ArrayLike<number>, p: number): number {
  const n = sortedAscending.length;
  return sortedAscending[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
}
