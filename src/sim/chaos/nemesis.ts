// Runs one schedule during the crowd: each fault at its offset, healed after its duration, one after another (a
// fault that starts late, behind a slow heal, starts at once). Heals run even when inject half-failed.
import type { ChaosFaultRun } from '../report-types';
import type { ChaosTarget, Fault } from './faults';
import type { ScheduledFault } from './schedule';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runNemesis(
  schedule: readonly ScheduledFault[],
  faults: readonly Fault[],
  target: ChaosTarget,
  startedAt: number,
): Promise<ChaosFaultRun[]> {
  const log: ChaosFaultRun[] = [];
  for (const step of schedule) {
    const fault = faults.find((f) => f.name === step.fault)!;
    await sleep(Math.max(0, startedAt + step.atMs - Date.now()));
    const entry: ChaosFaultRun = { fault: step.fault, atMs: step.atMs, durationMs: step.durationMs };
    log.push(entry);
    try {
      const heal = await fault.inject(target, step.pick);
      // In place now: finding the target (a process, the primary) may have taken a while.
      entry.injectedAtMs = Date.now() - startedAt;
      await sleep(step.durationMs);
      await heal();
    } catch (err) {
      entry.error = (err as Error).message.slice(0, 300);
    }
  }
  return log;
}
