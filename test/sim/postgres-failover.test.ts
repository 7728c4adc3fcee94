// PostgreSQL failover for real: the sale runs on the sim's own Patroni cluster (three PostgreSQL 15 nodes,
// synchronous strict, etcd, HAProxy), the crowd buys through two api processes, and mid-crowd the primary dies by
// kill -9 (its PostgreSQL; then the whole node, Patroni with it). A standby is promoted, the old node rejoins as a
// standby (each fault's heal waits for that), and the sale must end exact with every `ordered` answer in the
// database. The asynchronous twin is in the README's figures, not here: whether it loses a commit is a race.
import { faultsNamed } from '../../src/sim/chaos/faults';
import { runChaos, type ChaosOptions } from '../../src/sim/chaos/run-chaos';
import type { ChaosRunReport } from '../../src/sim/report-types';

const options: ChaosOptions = {
  strategies: ['segmented-lock'],
  runs: 1,
  seed: 1,
  faults: faultsNamed(['postgres-failover']),
  faultsPerRun: 1,
  // The crowd arrives over 8 s (75 buyers/s) and cannot buy 450 units in less than 6 s: when the primary dies (at
  // 0 s and 2.6 s into the window for seeds 1 and 2) units are left, so buyers must order again after the switch.
  stock: 450,
  segments: 4,
  users: 600,
  payRatio: 0.5,
  paymentTimeoutMs: 1500,
  windowMs: 8000,
  drainTimeoutMs: 90_000,
  apis: 2,
  postgresHa: 'sync',
  progress: () => undefined,
};
const env = { PATH: process.env.PATH, LOG_LEVEL: 'info' };

function expectExactAfterFailover(run: ChaosRunReport): void {
  // The checker's verdict: orders = stock, oversell/undersell/dbDrift 0, one order per user, every acknowledged
  // order present, outbox all sent and applied once (the relay and consumer drained after the switch).
  expect(run.violations).toEqual([]);
  expect(run.expectedSafe).toBe(true);
  expect(run.acknowledgedLost).toBe(0);
  expect(run.activeOrders).toBe(options.stock);
  // Busy while the database was away, never a 500 or a malformed answer (a failure shows what they were).
  expect(run.errorSamples).toEqual([]);
  expect(run.errorAnswers).toBe(0);
  const [fault] = run.faults;
  // The heal waited for the old primary to rejoin as a standby; an error here says it did not.
  expect(fault.error).toBeUndefined();
  // Buyers ordered again after the switch (a failure prints what the crowd was told after the fault), and nobody
  // gave up.
  expect(fault.recovery).toEqual(expect.objectContaining({ firstOrderAfterMs: expect.any(Number) }));
  expect(fault.recovery!.firstOrderAfterMs).toBeGreaterThan(0);
  expect(run.gaveUp).toBe(0);
  // The consumer (or any child) may be restarted by its supervisor at most once per switch, and it is counted.
  expect(run.crashes).toBeLessThanOrEqual(1);
}

test('the primary killed -9 mid-crowd: a standby is promoted and the sale ends exact', async () => {
  const report = await runChaos(options, env);
  expect(report.backends.postgres).toMatch(/Patroni cluster, 3 nodes, synchronous/);
  expect(report.runs).toHaveLength(1);
  expectExactAfterFailover(report.runs[0]);
}, 300_000);

test('the primary node crashes whole (Patroni with it): the leader key expires, a standby leads, exact', async () => {
  const report = await runChaos(
    // The node stays down past Patroni's ttl (10 s); the crowd keeps retrying through it.
    { ...options, seed: 2, faults: faultsNamed(['postgres-node-crash']) },
    env,
  );
  expect(report.runs).toHaveLength(1);
  expectExactAfterFailover(report.runs[0]);
}, 300_000);
