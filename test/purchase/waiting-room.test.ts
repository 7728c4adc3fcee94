// The waiting room on real Redis and PostgreSQL, with api processes of their own: FIFO admits in join order across
// processes, the admission rate holds, the lottery is uniform on a fixed seed, a sale behind a room ends exact,
// sold out reaches the queue, and every refused pass changes nothing.
import type { Redis } from 'ioredis';
import { uniformityP } from '../../src/sim/fairness';
import { homeSegment, segmentKeys } from '../../src/stock/keys';
import { startServiceProcess, type ServiceProcess } from '../../src/sim/service-process';
import { stateSnapshot } from '../support/snapshot';
import { drained, exactEnd, joiningEnv, startStack, waitFor, type TestStack } from '../support/stack';
import {
  admissionLog,
  buyWithPass,
  joinRoom,
  mostAdmittedWithin,
  roomStatus,
  visit,
  type VisitorOutcome,
} from '../support/waiting-room';

jest.setTimeout(180_000);

let stack: TestStack;
const others: ServiceProcess[] = [];
let urls: string[];
let redis: Redis;

beforeAll(async () => {
  // Presence is off here (waiting-room-faults tests it), and the worker's sweep (a backstop, tested elsewhere) runs
  // once a minute: state snapshots must see what requests did, not a quiet visitor's place freed or a repair's lock.
  const presenceOff = { WAITING_ROOM_AWAY_AFTER_MS: '0', SWEEP_INTERVAL_MS: '60000' };
  stack = await startStack(6, { roles: ['api', 'relay', 'consumer', 'worker'], env: presenceOff });
  redis = stack.service.redis as Redis;
  const env = joiningEnv(stack, { LOG_LEVEL: 'silent', ...presenceOff });
  for (let i = 0; i < 2; i++) others.push(await startServiceProcess({ roles: 'api', env }));
  urls = [stack.url, ...others.map((p) => p.url!)];
});

afterAll(async () => {
  await Promise.allSettled(others.map((p) => p.stop()));
  await stack?.stop();
});

const users = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pollUntil(url: string, itemId: string, ticket: string, state: string) {
  let last;
  for (let i = 0; i < 200; i++) {
    const { body } = (last = await roomStatus(url, itemId, ticket));
    if (body.state === state) return body;
    await pause(50);
  }
  throw new Error(`ticket never reached ${state}: ${JSON.stringify(last)}`);
}

describe('fifo', () => {
  const STOCK = 30;
  const RATE = 40;
  let itemId: string;
  let outcomes: VisitorOutcome[];

  beforeAll(async () => {
    ({ itemId } = await stack.createSale({
      name: 'fifo room',
      stock: STOCK,
      admission: { mode: 'fifo', ratePerSec: RATE, passTtlMs: 20_000 },
    }));
    const crowd = users('fifo', 90);
    const deadline = Date.now() + 60_000;
    // Joins arrive at the three processes at once; each visitor then polls and buys through its own process.
    outcomes = await Promise.all(
      crowd.map((userId, i) => visit(() => urls, itemId, userId, i, { deadline })),
    );
  });

  it('gives each visitor one place, kept when they join again', async () => {
    const again = await Promise.all(
      outcomes.slice(0, 10).map(async ({ userId, ticket }, i) => {
        const first = (await roomStatus(urls[i % 3]!, itemId, ticket)).body;
        const second = (await joinRoom(urls[(i + 1) % 3]!, itemId, userId)).body;
        return [first.position, second.position];
      }),
    );
    for (const [first, second] of again) expect(second).toBe(first);
    const log = await admissionLog(redis, itemId);
    expect(new Set(log.map((entry) => entry.ticket)).size).toBe(log.length); // nobody admitted twice
    expect(await redis.hlen(`wr:{r${itemId}}:tickets`)).toBe(90);
  });

  it('admits in join order, across three api processes', async () => {
    const log = await admissionLog(redis, itemId);
    expect(log.length).toBeGreaterThanOrEqual(STOCK);
    const tickets = log.map((entry) => entry.ticket);
    expect(tickets).toEqual([...tickets].sort((a, b) => a - b));
    expect(tickets[0]).toBe(1);
  });

  it('never admits more per second than the rate, within one refresh period', async () => {
    const log = await admissionLog(redis, itemId);
    // The bucket's burst is one refresh period's worth (100 ms): at most RATE + RATE/10 in any second.
    expect(mostAdmittedWithin(log, 1000)).toBeLessThanOrEqual(RATE + RATE / 10);
    expect(mostAdmittedWithin(log, 1000)).toBeGreaterThanOrEqual(RATE / 2); // and it did admit at the rate
  });

  it('ends exact, sold only to admitted visitors, and tells the rest sold out', async () => {
    await exactEnd(stack, itemId, STOCK);
    const ordered = outcomes.filter((o) => o.outcome === 'ordered');
    expect(ordered).toHaveLength(STOCK);
    expect(outcomes.filter((o) => o.outcome !== 'ordered').every((o) => o.outcome === 'sold_out')).toBe(true);
    const admitted = new Set((await admissionLog(redis, itemId)).map((entry) => entry.ticket));
    const ticketOf = (token: string) =>
      JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).tkt;
    expect(ordered.filter((o) => !admitted.has(ticketOf(o.ticket)))).toEqual([]);
  });
});

describe('sold out reaches the queue', () => {
  it('within a second, to everyone still waiting', async () => {
    const { itemId } = await stack.createSale({
      name: 'sold out room',
      stock: 3,
      admission: { mode: 'fifo', ratePerSec: 5 },
    });
    const waiting = [];
    for (const [i, u] of users('so', 20).entries()) waiting.push(await joinRoom(urls[i % 3]!, itemId, u));
    // The first three buy; the moment the third order is answered, the clock starts.
    for (let i = 0; i < 3; i++) {
      const pass = (await pollUntil(urls[0]!, itemId, waiting[i]!.body.ticket, 'admitted')).pass;
      expect((await buyWithPass(urls[0]!, itemId, `so-${i}`, pass)).body.status).toBe('ordered');
    }
    const soldAt = Date.now();
    // Nobody more is admitted to a sold-out sale; the room tells everyone still waiting.
    const told = await Promise.all(
      waiting
        .slice(3)
        .map(
          async ({ body }, i) =>
            (await pollUntil(urls[i % 3]!, itemId, body.ticket, 'sold_out')) && Date.now(),
        ),
    );
    expect(Math.max(...told) - soldAt).toBeLessThan(1000);
    expect((await admissionLog(redis, itemId)).length).toBe(3);
  });

  it('a unit given back (an unpaid order expired) reopens the room to the next in line', async () => {
    const { itemId } = await stack.createSale({
      name: 'given back',
      stock: 2,
      paymentTimeoutMs: 1000,
      admission: { mode: 'fifo', ratePerSec: 50 },
    });
    const waiting: string[] = [];
    for (const u of users('gb', 4)) waiting.push((await joinRoom(urls[0]!, itemId, u)).body.ticket as string);
    for (let i = 0; i < 2; i++) {
      const { pass } = await pollUntil(urls[0]!, itemId, waiting[i]!, 'admitted');
      expect((await buyWithPass(urls[0]!, itemId, `gb-${i}`, pass)).body.status).toBe('ordered'); // never paid
    }
    await pollUntil(urls[1]!, itemId, waiting[2]!, 'sold_out');
    // The two orders expire unpaid; their units come back and the next two in line are let in, in order.
    const { pass } = await waitFor(
      'the third visitor admitted',
      async () =>
        (await roomStatus(urls[1]!, itemId, waiting[2]!)).body.pass &&
        (await roomStatus(urls[1]!, itemId, waiting[2]!)).body,
      30_000,
    );
    expect((await buyWithPass(urls[1]!, itemId, 'gb-2', pass)).body.status).toBe('ordered');
    expect((await admissionLog(redis, itemId)).map((entry) => entry.ticket).slice(0, 3)).toEqual([1, 2, 3]);
  });

  it('a unit the ledger refuses (Redis counted one too many) does not close the room: the next in line buys', async () => {
    const { itemId } = await stack.createSale({
      name: 'phantom unit',
      stock: 2,
      segments: 2,
      admission: { mode: 'fifo', ratePerSec: 50, maxUnfinished: 1 },
    });
    // Segment 0 counts a unit its ledger row does not have (as a flush between a take and its commit leaves it):
    // the second buyer whose home it is takes that unit, and the ledger refuses the order.
    await redis.incr(segmentKeys(itemId, 0).stock);
    const atHome0 = users('ph', 40).filter((u) => homeSegment(u, 2) === 0);
    const buyers = [atHome0[0]!, atHome0[1]!, 'ph-last', 'ph-late'];
    const tickets: string[] = [];
    for (const u of buyers) tickets.push((await joinRoom(urls[0]!, itemId, u)).body.ticket as string);
    const buy = async (i: number) => {
      const { pass } = await pollUntil(urls[i % 3]!, itemId, tickets[i]!, 'admitted');
      return (await buyWithPass(urls[i % 3]!, itemId, buyers[i]!, pass)).body.status;
    };
    expect(await buy(0)).toBe('ordered');
    expect(await buy(1)).toBe('sold_out'); // that unit was never there
    expect(await buy(2)).toBe('ordered'); // segment 1's unit: the room stayed open for the next in line
    await pollUntil(urls[1]!, itemId, tickets[3]!, 'sold_out');
    await exactEnd(stack, itemId, 2);
  });

  it('tells a visitor early that their place is beyond the units left', async () => {
    const { itemId } = await stack.createSale({
      name: 'unlikely',
      stock: 2,
      admission: { mode: 'fifo', ratePerSec: 1 },
    });
    const answers = [];
    for (const u of users('ul', 6)) answers.push((await joinRoom(urls[0]!, itemId, u)).body);
    expect(answers[0].unlikely).toBe(false);
    expect(answers[5].unlikely).toBe(true);
    expect(answers[5].ahead).toBeGreaterThanOrEqual(2);
  });
});

describe('random', () => {
  it('draws uniformly: each arrival bucket of the pre-queue wins at the same rate (fixed seed)', async () => {
    const startsAt = new Date(Date.now() + 4000);
    const { itemId } = await stack.createSale({
      name: 'lottery',
      stock: 100,
      startsAt: startsAt.toISOString(),
      admission: {
        mode: 'random',
        ratePerSec: 1000,
        preQueueOpensAt: new Date().toISOString(),
        seed: 'fixed-seed-1',
      },
    });
    // Four waves of 100 arrive one after another in the pre-queue: ticket order is arrival order.
    for (let wave = 0; wave < 4; wave++) {
      await Promise.all(users(`rnd${wave}`, 100).map((u, i) => joinRoom(urls[i % 3]!, itemId, u)));
    }
    await pause(Math.max(0, startsAt.getTime() - Date.now()) + 1500);
    const log = await admissionLog(redis, itemId);
    const winners = log.slice(0, 100).map((entry) => entry.ticket);
    const groups = [0, 1, 2, 3].map((wave) => ({
      entrants: 100,
      wins: winners.filter((ticket) => Math.floor((ticket - 1) / 100) === wave).length,
    }));
    expect(uniformityP(groups)).toBeGreaterThan(0.05);
    // and it is a draw, not arrival order: early arrivals do not fill the first hundred
    expect(groups[0]!.wins).toBeLessThan(60);
  });

  it('fifo shuffles its pre-queue at the start and puts later arrivals behind it', async () => {
    const startsAt = new Date(Date.now() + 3000);
    const { itemId } = await stack.createSale({
      name: 'pre-queue',
      stock: 50, // a unit for each: the inlet admits no more visitors than units are left
      startsAt: startsAt.toISOString(),
      admission: {
        mode: 'fifo',
        ratePerSec: 1000,
        preQueueOpensAt: new Date().toISOString(),
        seed: 'seed-2',
      },
    });
    const preQueue: string[] = [];
    for (const u of users('pq', 40)) preQueue.push((await joinRoom(urls[0]!, itemId, u)).body.ticket);
    expect((await roomStatus(urls[2]!, itemId, preQueue[0]!)).body).toMatchObject({
      state: 'not_started',
      position: null, // drawn at the start
    });
    await pause(Math.max(0, startsAt.getTime() - Date.now()) + 200);
    for (const u of users('late', 10)) await joinRoom(urls[1]!, itemId, u);
    await pause(1500);
    const tickets = (await admissionLog(redis, itemId)).map((entry) => entry.ticket);
    expect(tickets.slice(0, 40).sort((a, b) => a - b)).toEqual(users('pq', 40).map((_, i) => i + 1));
    expect(tickets.slice(0, 40)).not.toEqual([...tickets.slice(0, 40)].sort((a, b) => a - b));
    expect(tickets.slice(40)).toEqual(Array.from({ length: 10 }, (_, i) => 41 + i));
    // The position a process tells each visitor (its own copy of the shuffle) is where the inlet admitted them.
    const told = await Promise.all(
      preQueue.map(async (t) => (await roomStatus(urls[2]!, itemId, t)).body.position),
    );
    expect(told).toEqual(preQueue.map((_, i) => tickets.indexOf(i + 1) + 1));
  });
});

describe('refused passes change nothing', () => {
  let itemId: string;
  let otherItemId: string;
  const passes: Record<string, string> = {};

  beforeAll(async () => {
    ({ itemId } = await stack.createSale({
      name: 'passes',
      stock: 5,
      admission: { mode: 'fifo', ratePerSec: 100 },
    }));
    ({ itemId: otherItemId } = await stack.createSale({
      name: 'other',
      stock: 5,
      admission: { mode: 'fifo', ratePerSec: 100 },
    }));
    for (const [sale, user] of [
      [itemId, 'alice'],
      [itemId, 'bob'],
      [otherItemId, 'alice'],
    ] as const) {
      const { ticket } = (await joinRoom(stack.url, sale, user)).body;
      passes[`${sale}:${user}`] = (await pollUntil(stack.url, sale, ticket, 'admitted')).pass;
    }
  });

  // This sale's keys and every table: the sold-out rooms of the tests above keep admitting a probe a second.
  const snapshot = async (sale = itemId) => {
    const { redis: keys, ...tables } = await stateSnapshot(stack.service);
    const ofSale = (key: string) =>
      [`{r${sale}}`, `{i${sale}}`, `{i${sale}:`].some((tag) => key.includes(tag));
    return { keys: Object.fromEntries(Object.entries(keys).filter(([key]) => ofSale(key))), ...tables };
  };
  const refused = async (body: Record<string, unknown>, status: number, code: string) => {
    await drained(stack, itemId);
    const before = await snapshot();
    const res = await stack.post('/seckill', body);
    expect([res.status, res.body.error?.code]).toEqual([status, code]);
    expect(await snapshot()).toEqual(before);
  };

  it('without a pass', () => refused({ userId: 'alice', itemId }, 403, 'pass_required'));
  it('forged', () => {
    const [h, p, s] = passes[`${itemId}:alice`]!.split('.');
    const forged = `${h}.${p}.${s!.slice(0, -4)}AAAA`;
    return refused({ userId: 'alice', itemId, pass: forged }, 403, 'pass_invalid');
  });
  it('for another sale', () =>
    refused({ userId: 'alice', itemId, pass: passes[`${otherItemId}:alice`] }, 403, 'pass_invalid'));
  it("someone else's", () =>
    refused({ userId: 'alice', itemId, pass: passes[`${itemId}:bob`] }, 403, 'pass_not_yours'));
  it('a ticket offered as a pass', async () => {
    const { ticket } = (await joinRoom(stack.url, itemId, 'alice')).body;
    await refused({ userId: 'alice', itemId, pass: ticket }, 403, 'pass_invalid');
  });
  it('replayed', async () => {
    const pass = passes[`${itemId}:alice`];
    expect((await stack.post('/seckill', { userId: 'alice', itemId, pass })).body.status).toBe('ordered');
    await refused({ userId: 'alice', itemId, pass }, 409, 'pass_used');
  });
  it('expired', async () => {
    const { itemId: shortLived } = await stack.createSale({
      name: 'short passes',
      stock: 5,
      admission: { mode: 'fifo', ratePerSec: 100, passTtlMs: 1000 },
    });
    const { ticket } = (await joinRoom(stack.url, shortLived, 'carol')).body;
    const { pass } = await pollUntil(stack.url, shortLived, ticket, 'admitted');
    await pollUntil(stack.url, shortLived, ticket, 'expired');
    await pause(300); // the inlet's next refresh frees the expired place
    const before = await snapshot(shortLived);
    const res = await stack.post('/seckill', { userId: 'carol', itemId: shortLived, pass });
    expect([res.status, res.body.error.code]).toEqual([403, 'pass_expired']);
    expect(await snapshot(shortLived)).toEqual(before);
  });
});
