// The waiting room's pure logic: what a ticket's holder is told from a process's copy of the room, and the seeded
// shuffle of a pre-queue, and the tickets a process remembers as verified.
import type { RoomDefinition } from '../../src/waiting-room/port';
import { RoomView, seededFraction, shuffledPositions } from '../../src/waiting-room/room-view';
import { admissionSettings } from '../../src/waiting-room/settings';
import { roomKey, RoomPasses } from '../../src/waiting-room/passes';
import { statusOf } from '../../src/waiting-room/waiting-room';

const NOW = 1_800_000_000_000;

function viewOf(
  mode: 'fifo' | 'random',
  counters: Partial<RoomView['counters']>,
  log: [number, number][] = [],
) {
  const room: RoomDefinition = {
    itemId: '1',
    strategy: 'lua',
    stock: 10,
    startsAt: null,
    admission: admissionSettings({ mode, ratePerSec: 5, passTtlMs: 30_000, seed: 's' }),
  };
  const view = new RoomView(room);
  view.apply(
    {
      now: NOW,
      joined: 0,
      preQueued: 0,
      admitted: log.length,
      waiting: 0,
      unfinished: 0,
      soldOut: false,
      ordered: 0,
      epoch: '0',
      entries: log.map(([ticket, admittedAt]) => ({ ticket, admittedAt })),
      ...counters,
    },
    Date.now(),
  );
  return view;
}

describe('statusOf', () => {
  it('fifo: position, people ahead and a wait at the configured rate', () => {
    const view = viewOf('fifo', { joined: 30, waiting: 20 }, [[1, NOW - 100]]);
    expect(statusOf(view, 11)).toMatchObject({
      state: 'waiting',
      position: 11,
      ahead: 9,
      serving: 1,
      estimatedWaitMs: 2000, // 10 in line at 5 a second
      unitsLeft: 10,
      unlikely: false,
    });
    expect(statusOf(view, 12).unlikely).toBe(true); // 10 ahead for 10 units
  });

  it('admitted until the pass expires, then expired', () => {
    expect(statusOf(viewOf('fifo', {}, [[1, NOW - 1000]]), 1).state).toBe('admitted');
    expect(statusOf(viewOf('fifo', {}, [[1, NOW - 30_001]]), 1).state).toBe('expired');
  });

  it('sold out reaches whoever still waits, not the admitted', () => {
    const view = viewOf('fifo', { soldOut: true, waiting: 5, ordered: 10 }, [[1, NOW]]);
    expect(statusOf(view, 2)).toMatchObject({ state: 'sold_out', unitsLeft: 0, unlikely: true });
    expect(statusOf(view, 1).state).toBe('admitted');
  });

  it('random: no place in line; unlikely past ten waiting per unit left', () => {
    expect(statusOf(viewOf('random', { waiting: 100 }), 5)).toMatchObject({
      position: null,
      ahead: null,
      unlikely: false,
    });
    expect(statusOf(viewOf('random', { waiting: 101 }), 5).unlikely).toBe(true);
  });
});

describe('the pre-queue shuffle', () => {
  it('is a permutation, fixed by the seed, and differs between seeds', () => {
    const positions = shuffledPositions('seed-a', 50);
    expect([...positions.values()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(shuffledPositions('seed-a', 50)).toEqual(positions);
    expect(shuffledPositions('seed-b', 50)).not.toEqual(positions);
  });

  it('draws fractions in [0, 1) (the scripts draw the same ones: the pre-queue test compares positions told and admitted)', () => {
    const fractions = Array.from({ length: 1000 }, (_, i) => seededFraction('x', i + 1));
    expect(Math.min(...fractions)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...fractions)).toBeLessThan(1);
  });
});

describe('tickets remembered as verified', () => {
  afterEach(() => jest.useRealTimers());
  const passes = () => new RoomPasses(roomKey('unit-test-admin-token'));
  const claims = { userId: 'alice', itemId: '7', ticket: 3 };

  it('a ticket read twice says the same; a changed byte is still refused', async () => {
    const room = passes();
    const token = await room.ticket(claims);
    expect(await room.readTicket(token)).toMatchObject(claims);
    expect(await room.readTicket(token)).toMatchObject(claims);
    const forged = token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA');
    await expect(room.readTicket(forged)).rejects.toMatchObject({ code: 'ticket_invalid' });
  });

  it('a remembered ticket past its expiry is refused', async () => {
    jest.useFakeTimers({ now: NOW, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const room = passes();
    const token = await room.ticket(claims);
    expect(await room.readTicket(token)).toMatchObject(claims);
    jest.setSystemTime(NOW + 8 * 24 * 3600 * 1000); // tickets live 7 days
    await expect(room.readTicket(token)).rejects.toMatchObject({ code: 'ticket_invalid' });
  });
});
