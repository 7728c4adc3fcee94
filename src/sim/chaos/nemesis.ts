// Runs one schedule during the crowd: each fault at its offset, healed after its duration, one after another (a
// fault that starts late, behind a slow heal, starts at once). A fault that aims finds its target right after the
// previous heal, so that it lands on time. Heals run even when inject half-failed.
import type { ChaosFaultRun } from '../report-types';
import type { ChaosTarget, Fault, Strike } from './faults';
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
    const entry: ChaosFaultRun = { fault: step.fault, atMs: step.atMs, durationMs: step.durationMs };
    log.push(entry);
    try {
      const strike = await aim(fault, target, step.pick);
      await sleep(Math.max(0, startedAt + step.atMs - Date.now()));
      const heal = await strike();
      // In place now: a strike may take a while (a process's exit is awaited).
      entry.injectedAtMs = Date.now() - startedAt;
      await sleep(step.durationMs);
      await heal();
    } catch (err) {
      entry.error = (err as Error).message.slice(0, 300);
    }
  }
  return log;
}

function aim(fault: Fault, target: ChaosTarget, pick: number): Promise<Strike> {
  if ('aim' in fault) return fault.aim(target);
  return Promise.resolve(() => fault.inject(target, pick));
}
