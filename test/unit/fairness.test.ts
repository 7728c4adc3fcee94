// Fairness figures of the simulator: Kendall's tau against its O(n²) definition, and the share of first comers served.
import fc from 'fast-check';
import { fairnessOf, kendallTau } from '../../src/sim/fairness';

/** The definition: every pair, concordant +1, discordant −1, over the number of pairs. */
function kendallTauByPairs(values: number[]): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++)
    for (let j = i + 1; j < values.length; j++) sum += Math.sign(values[j] - values[i]);
  return sum / ((values.length * (values.length - 1)) / 2);
}

const distinctValues = fc.uniqueArray(fc.integer({ min: -1000, max: 1000 }), {
  minLength: 2,
  maxLength: 200,
});

test('kendallTau equals the pairwise definition on any sequence of distinct values', () => {
  fc.assert(
    fc.property(distinctValues, (values) => {
      expect(kendallTau(values)).toBeCloseTo(kendallTauByPairs(values), 12);
    }),
    { seed: 17, numRuns: 300 },
  );
});

test('kendallTau: 1 in order, -1 reversed, one swap of four is 2/3, null below two values', () => {
  expect(kendallTau([0, 1, 2, 3])).toBe(1);
  expect(kendallTau([3, 2, 1, 0])).toBe(-1);
  expect(kendallTau([1, 0, 2, 3])).toBeCloseTo(4 / 6, 12); // 5 concordant, 1 discordant of 6 pairs
  expect(kendallTau([7])).toBeNull();
  expect(kendallTau([])).toBeNull();
});

test('fairnessOf ranks grants by arrival and counts the first S arrivals served', () => {
  const arrivals = ['a', 'b', 'c', 'd', 'e', 'f'];
  // Stock 3: b, a and e got units, in that order; of the first three arrivals (a, b, c) two were served.
  const fairness = fairnessOf(arrivals, ['b', 'a', 'e'], 3);
  expect(fairness.firstComersServed).toBeCloseTo(2 / 3, 12);
  // Arrival ranks in grant order 1, 0, 4: (1,0) discordant, (1,4) and (0,4) concordant: (2 − 1) / 3.
  expect(fairness.kendallTau).toBeCloseTo(1 / 3, 12);
});

test('a buyer granted twice counts once, at the first grant; grants of unknown buyers are ignored', () => {
  const fairness = fairnessOf(['a', 'b', 'c'], ['a', 'b', 'a', 'zz'], 2);
  expect(fairness).toEqual({ kendallTau: 1, firstComersServed: 1 });
});

test('no arrivals: nothing to measure', () => {
  expect(fairnessOf([], [], 5)).toEqual({ kendallTau: null, firstComersServed: null });
});
