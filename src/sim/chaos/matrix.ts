// The fault matrix: strategies × faults, filled from the runs. A failing run marks every fault it injected (the
// checker sees the end state, not which fault caused it); --faults on the replay seed narrows it down.
import type { ChaosCell, ChaosRunReport, ChaosSummary } from '../report-types';

export function buildMatrix(
  runs: readonly ChaosRunReport[],
  strategies: readonly string[],
  faults: readonly string[],
  unavailable: (strategy: string, fault: string) => string | undefined,
): ChaosCell[] {
  return strategies.flatMap((strategy) =>
    faults.map((fault): ChaosCell => {
      const reason = unavailable(strategy, fault);
      if (reason) return { strategy, fault, status: 'n/a', runs: 0, failedRuns: 0, failures: [], reason };
      const withFault = runs.filter(
        (run) => run.strategy === strategy && run.faults.some((f) => f.fault === fault),
      );
      const failures = withFault
        .filter((run) => run.violations.length)
        .map((run) => ({ seed: run.seed, violations: run.violations }));
      const status = !withFault.length ? 'not run' : failures.length ? 'fail' : 'pass';
      return { strategy, fault, status, runs: withFault.length, failedRuns: failures.length, failures };
    }),
  );
}

export function summarise(runs: readonly ChaosRunReport[], strategies: readonly string[]): ChaosSummary[] {
  return strategies.map((strategy) => {
    const mine = runs.filter((run) => run.strategy === strategy);
    return {
      strategy,
      expectedSafe: mine[0]?.expectedSafe ?? true,
      runs: mine.length,
      faultsInjected: mine.reduce((sum, run) => sum + run.faults.length, 0),
      violations: mine.reduce((sum, run) => sum + run.violations.length, 0),
      firstFailingSeed: mine.find((run) => run.violations.length)?.seed ?? null,
      durationMs: mine.reduce((sum, run) => sum + run.durationMs, 0),
      acknowledgedLost: mine.reduce((sum, run) => sum + run.acknowledgedLost, 0),
    };
  });
}
