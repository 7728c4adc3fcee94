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
