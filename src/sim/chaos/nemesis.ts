// Runs one schedule during the crowd: each fault at its offset, healed after its duration, one after another (a
// fault that starts late, behind a slow heal, starts at once). A fault that aims finds its target when nothing else
// is changing: the first before the crowd starts, each next one right after the previous heal, so that it lands on
// time. Heals run even when inject half-failed.
import type { ChaosFaultRun } from '../report-types';
import type { ChaosTarget, Fault, Strike } from './faults';
import type { ScheduledFault } from './schedule';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fault ready to strike, or why it could not be aimed (recorded as the fault's error). */
type Aimed = { strike: Strike } | { error: unknown };

/**
 * Aims the schedule's first fault now, before the crowd: finding its target can take seconds on a loaded machine
 * (Patroni's REST API under a crowd took 1.3–13 s, and once gave up after 20 s), and a fault due at 0 s would land
 * at the end of the crowd. Returns the run of the schedule from `startedAt`, the crowd's start.
 */
export async function prepareNemesis(
  schedule: readonly ScheduledFault[],
  faults: readonly Fault[],
  target: ChaosTarget,
): Promise<(startedAt: number) => Promise<ChaosFaultRun[]>> {
  const aimStep = (step: ScheduledFault) =>
    aim(
      faults.find((f) => f.name === step.fault)!,
      target,
      step.pick,
    );
  const first = schedule.length ? await aimStep(schedule[0]) : undefined;
  return async (startedAt) => {
    const log: ChaosFaultRun[] = [];
    for (const [i, step] of schedule.entries()) {
      const entry: ChaosFaultRun = { fault: step.fault, atMs: step.atMs, durationMs: step.durationMs };
      log.push(entry);
      const aimed = i === 0 ? first! : await aimStep(step);
      try {
        if ('error' in aimed) throw aimed.error;
        await sleep(Math.max(0, startedAt + step.atMs - Date.now()));
        const heal = await aimed.strike();
        // In place now: a strike may take a while (a process's exit is awaited).
        entry.injectedAtMs = Date.now() - startedAt;
        await sleep(step.durationMs);
        await heal();
      } catch (err) {
        entry.error = (err as Error).message.slice(0, 300);
      }
    }
    return log;
  };
}

async function aim(fault: Fault, target: ChaosTarget, pick: number): Promise<Aimed> {
  try {
    return { strike: 'aim' in fault ? await fault.aim(target) : () => fault.inject(target, pick) };
  } catch (error) {
    return { error };
  }
}
