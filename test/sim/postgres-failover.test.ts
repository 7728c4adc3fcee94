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
  // Enough stock that the crowd is still buying when the primary dies, wherever in the window the seed puts it.
  stock: 300,
  segments: 4,
  users: 600,
  payRatio: 0.5,
  paymentTimeoutMs: 1500,
  windowMs: 5000,
  drainTimeoutMs: 90_000,
  apis: 2,
  postgresHa: 'sync',
  progress: () => undefined,
};
const env = { PATH: process.env.PATH, LOG_LEVEL: 'info' };

function expectExactAfterFailover(run: ChaosRunReport, stock: number): void {
  // The checker's verdict: orders = stock, oversell/undersell/dbDrift 0, one order per user, every acknowledged
  // order present, outbox all sent and applied once (the relay and consumer drained after the switch).
  expect(run.violations).toEqual([]);
  expect(run.expectedSafe).toBe(true);
  expect(run.acknowledgedLost).toBe(0);
  expect(run.activeOrders).toBe(stock);
  // Busy while the database was away, never a 500 or a malformed answer.
  expect(run.errorAnswers).toBe(0);
  const [fault] = run.faults;
  // The heal waited for the old primary to rejoin as a standby; an error here says it did not.
  expect(fault.error).toBeUndefined();
  // Buyers ordered again after the switch, and nobody gave up.
  expect(fault.recovery?.firstOrderAfterMs).toBeGreaterThan(0);
  expect(run.gaveUp).toBe(0);
  // The consumer (or any child) may be restarted by its supervisor at most once per switch, and it is counted.
  expect(run.crashes).toBeLessThanOrEqual(1);
}

test('the primary killed -9 mid-crowd: a standby is promoted and the sale ends exact', async () => {
  const report = await runChaos(options, env);
  expect(report.backends.postgres).toMatch(/Patroni cluster, 3 nodes, synchronous/);
  expect(report.runs).toHaveLength(1);
  expectExactAfterFailover(report.runs[0], options.stock);
}, 300_000);

test('the primary node crashes whole (Patroni with it): the leader key expires, a standby leads, exact', async () => {
  const report = await runChaos(
    {
      ...options,
      seed: 2,
      faults: faultsNamed(['postgres-node-crash']),
      // The node stays down past Patroni's ttl (10 s): the crowd needs stock left for after the promotion.
      stock: 400,
      users: 800,
    },
    env,
  );
  expect(report.runs).toHaveLength(1);
  expectExactAfterFailover(report.runs[0], 400);
}, 300_000);
