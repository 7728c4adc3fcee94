// Fairness figures of the simulator: Kendall's tau against its O(n²) definition, and the share of first comers served.
import fc from 'fast-check';
import {
  admissionFairnessOf,
  fairnessOf,
  grantOrder,
  kendallTau,
  preQueueUniformity,
  type AccountRecord,
} from '../../src/sim/fairness';
import { planVisitors } from '../../src/sim/visitors';

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

// --compare-admission: the figures of one run, from the visitors' records.

const account = (userId: string, arrivedAtMs: number, more: Partial<AccountRecord> = {}): AccountRecord => ({
  userId,
  kind: 'patient',
  arrivedAtMs,
  toldSoldOutWaiting: false,
  ...more,
});

test('off grants in the order of the ordered answers; a room in its admission order, then by ticket', () => {
  const records = [
    account('a', 0, { orderedAtMs: 50, admissionAt: 1000, ticket: 2 }),
    account('b', 1, { orderedAtMs: 20, admissionAt: 1000, ticket: 1 }),
    account('c', 2, { orderedAtMs: 10, admissionAt: 900, ticket: 3 }),
    account('d', 3),
  ];
  expect(grantOrder('off', records).map((r) => r.userId)).toEqual(['c', 'b', 'a']);
  // The room admitted c first (900), then tickets 1 and 2 in the same millisecond: b before a.
  expect(grantOrder('fifo', records).map((r) => r.userId)).toEqual(['c', 'b', 'a']);
  const fifo = admissionFairnessOf({ mode: 'fifo', stock: 2, records, purchaseLatencies: [5, 1, 3] });
  expect(fifo.arrivalRankByGrant).toEqual([2, 1, 0]);
  expect(fifo.fairness.kendallTau).toBe(-1);
  expect(fifo.fairness.firstComersServed).toBe(1); // a and b, the first two to arrive, both got a unit
});

test('queue times, told sold out and the purchase p99 are read from the records', () => {
  const records = [
    account('a', 0, { admittedAtMs: 100, orderedAtMs: 120, admissionAt: 1, ticket: 1 }),
    account('b', 10, { admittedAtMs: 310, orderedAtMs: 330, admissionAt: 2, ticket: 2, kind: 'bot' }),
    account('c', 20, { toldSoldOutWaiting: true, kind: 'bot' }),
    account('d', 30, { toldSoldOutWaiting: true, kind: 'impatient' }),
  ];
  const latencies = Array.from({ length: 100 }, (_, i) => i + 1);
  const { fairness } = admissionFairnessOf({ mode: 'fifo', stock: 2, records, purchaseLatencies: latencies });
  expect(fairness).toMatchObject({
    kendallTau: 1,
    firstComersServed: 1,
    randomUniformityP: null,
    queueP50Ms: 100,
    queueP99Ms: 300,
    toldSoldOutWhileWaiting: 2,
    purchaseP99Ms: 99,
    byKind: {
      patient: { accounts: 1, units: 1 },
      impatient: { accounts: 1, units: 0 },
      bot: { accounts: 2, units: 1 },
    },
  });
  // Without a room there is no queue and nobody waits to be told.
  const off = admissionFairnessOf({ mode: 'off', stock: 2, records, purchaseLatencies: [] }).fairness;
  expect(off).toMatchObject({ queueP50Ms: null, toldSoldOutWhileWaiting: null, purchaseP99Ms: null });
});

test('the lottery: χ² over the pre-queue’s arrival buckets, later arrivals left out, null outside random', () => {
  // Pre-queue of 0..999 ms in 5 buckets of 40 entrants; every bucket wins 4: as even as can be.
  const even = Array.from({ length: 200 }, (_, i) =>
    account(`u${i}`, i * 5, i % 10 === 0 ? { orderedAtMs: 2000 + i } : {}),
  );
  const late = Array.from({ length: 50 }, (_, i) => account(`late${i}`, 1000 + i, { orderedAtMs: 3000 + i }));
  const input = { mode: 'random' as const, stock: 20, purchaseLatencies: [], preQueueEndsAtMs: 1000 };
  expect(preQueueUniformity({ ...input, records: [...even, ...late] })).toBeCloseTo(1, 12);
  // Every unit to the first bucket: p far below any threshold.
  const skewed = even.map((r, i) => ({ ...r, orderedAtMs: i < 20 ? 2000 + i : undefined }));
  expect(preQueueUniformity({ ...input, records: skewed })).toBeLessThan(1e-6);
  expect(
    admissionFairnessOf({ ...input, mode: 'fifo', records: even }).fairness.randomUniformityP,
  ).toBeNull();
  expect(preQueueUniformity({ ...input, preQueueEndsAtMs: undefined, records: even })).toBeNull();
});

test('the crowd of visitors: same seed, same crowd, in arrival order; bots own several accounts each', () => {
  const options = {
    visitors: 1000,
    arrivalWindowMs: 3000,
    botShare: 0.1,
    accountsPerBot: 5,
    impatientShare: 0.2,
    seed: 42,
  };
  const crowd = planVisitors(options);
  expect(planVisitors(options)).toEqual(crowd);
  expect(planVisitors({ ...options, seed: 43 })).not.toEqual(crowd);
  expect(crowd).toHaveLength(1000);
  expect(new Set(crowd.map((v) => v.userId)).size).toBe(1000);
  for (let i = 1; i < crowd.length; i++)
    expect(crowd[i].arriveAtMs).toBeGreaterThanOrEqual(crowd[i - 1].arriveAtMs);
  const bots = crowd.filter((v) => v.kind === 'bot');
  expect(bots).toHaveLength(100);
  expect(new Set(bots.map((v) => v.owner)).size).toBe(20);
  const humans = crowd.filter((v) => v.kind !== 'bot');
  expect(humans.every((v) => v.owner === v.userId)).toBe(true);
  const impatient = humans.filter((v) => v.kind === 'impatient').length / humans.length;
  expect(impatient).toBeGreaterThan(0.15);
  expect(impatient).toBeLessThan(0.25);
});
