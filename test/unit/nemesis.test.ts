// The nemesis's order of work, with faults that only record what they are asked to do (no servers): a fault that
// aims finds its target before the crowd when it comes first, and right after the previous heal otherwise.
import type { ChaosTarget, Fault } from '../../src/sim/chaos/faults';
import { prepareNemesis } from '../../src/sim/chaos/nemesis';
import type { ScheduledFault } from '../../src/sim/chaos/schedule';

const target = {} as ChaosTarget; // the recording faults never look at it

function recordingFault(name: string, calls: string[], aimError?: Error): Fault {
  return {
    name,
    durationMs: [0, 0],
    unavailable: () => undefined,
    async aim() {
      calls.push(`aim ${name}`);
      if (aimError) throw aimError;
      return async () => {
        calls.push(`strike ${name}`);
        return async () => {
          calls.push(`heal ${name}`);
        };
      };
    },
  };
}

const step = (fault: string, atMs = 0): ScheduledFault => ({ fault, atMs, durationMs: 0, pick: 0 });

test('the first fault is aimed before the crowd starts, each next one after the previous heal', async () => {
  const calls: string[] = [];
  const faults = [recordingFault('a', calls), recordingFault('b', calls)];
  const run = await prepareNemesis([step('a'), step('b')], faults, target);
  expect(calls).toEqual(['aim a']);

  const log = await run(Date.now());
  expect(calls).toEqual(['aim a', 'strike a', 'heal a', 'aim b', 'strike b', 'heal b']);
  expect(log.map((entry) => [entry.fault, entry.error, typeof entry.injectedAtMs])).toEqual([
    ['a', undefined, 'number'],
    ['b', undefined, 'number'],
  ]);
});

test('a fault that cannot be aimed is recorded with its error, never struck, and the schedule goes on', async () => {
  const calls: string[] = [];
  const faults = [
    recordingFault('a', calls, new Error('no node answering as the primary after 20000 ms')),
    recordingFault('b', calls),
  ];
  const run = await prepareNemesis([step('a'), step('b')], faults, target);
  const log = await run(Date.now());
  expect(calls).toEqual(['aim a', 'aim b', 'strike b', 'heal b']);
  expect(log[0]).toEqual({
    fault: 'a',
    atMs: 0,
    durationMs: 0,
    error: 'no node answering as the primary after 20000 ms',
  });
  expect(log[1].error).toBeUndefined();
});

test('an empty schedule aims nothing and logs nothing', async () => {
  const run = await prepareNemesis([], [], target);
  expect(await run(Date.now())).toEqual([]);
});
