// The nemesis's plan for one run, drawn from the seed alone: which faults, when, and for how long. The same seed and
// the same list of applicable faults give the same plan, so a failing run replays exactly with --seed.
import { mulberry32, randomBelow } from '../random';

export interface FaultTiming {
  name: string;
  /** How long the fault lasts between inject and heal, [min, max] in ms. */
  durationMs: readonly [number, number];
}

export interface ScheduledFault {
  fault: string;
  /** From the start of the crowd. */
  atMs: number;
  durationMs: number;
  /** A number for the fault's own choices (which api process), from the same seed. */
  pick: number;
}

export interface ScheduleShape {
  seed: number;
  /** Faults per run, at most one of each; fewer when fewer apply. */
  count: number;
  /** Faults start inside [0, windowMs): the selling part of the crowd. */
  windowMs: number;
}

export function buildSchedule(faults: readonly FaultTiming[], shape: ScheduleShape): ScheduledFault[] {
  const random = mulberry32(shape.seed);
  const pool = [...faults];
  const chosen: FaultTiming[] = [];
  while (chosen.length < shape.count && pool.length)
    chosen.push(pool.splice(randomBelow(random, pool.length), 1)[0]);
  return chosen
    .map((fault) => {
      const [min, max] = fault.durationMs;
      return {
        fault: fault.name,
        atMs: randomBelow(random, shape.windowMs),
        durationMs: min + randomBelow(random, max - min + 1),
        pick: randomBelow(random, 1 << 16),
      };
    })
    .sort((a, b) => a.atMs - b.atMs);
}
