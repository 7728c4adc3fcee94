import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  buildCrowd,
  classifyAnswer,
  driveCrowd,
  emptyOutcomes,
  formatProgress,
  type CrowdPlan,
  type CrowdProgress,
} from '../../src/sim/load-driver';
import { runBuyers } from '../../src/sim/chaos/buyers';
import type { OutcomeCounts } from '../../src/sim/report-types';

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

function sortedEntries(counts: Map<string, number>): [string, number][] {
  return [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function repeatsIn(crowd: string[]): number {
  return crowd.length - new Set(crowd).size;
}

describe('buildCrowd', () => {
  const shape = { users: 1000, requests: 4000, duplicateRatio: 0.8, seed: 42 };

  it('is deterministic for a seed and differs across seeds', () => {
    expect(buildCrowd(shape)).toEqual(buildCrowd(shape));
    expect(buildCrowd({ ...shape, seed: 43 })).not.toEqual(buildCrowd(shape));
  });

  it('sends exactly `requests`, duplicateRatio of them repeating users that came earlier', () => {
    const crowd = buildCrowd(shape);
    expect(crowd).toHaveLength(4000);
    expect(repeatsIn(crowd)).toBe(3200);
    expect(new Set(crowd).size).toBe(800);
    for (const userId of crowd) {
      expect(userId).toMatch(/^u\d+$/);
      expect(Number(userId.slice(1))).toBeLessThan(1000);
    }
  });

  it('hits the duplicate ratio when there are users to spare', () => {
    const crowd = buildCrowd({ users: 100_000, requests: 10_000, duplicateRatio: 0.25, seed: 7 });
    expect(crowd).toHaveLength(10_000);
    expect(repeatsIn(crowd) / crowd.length).toBeCloseTo(0.25, 5);
  });

  it('brings every user once and makes the surplus repeats when requests outnumber users', () => {
    const crowd = buildCrowd({ users: 1000, requests: 4000, duplicateRatio: 0.1, seed: 5 });
    expect(new Set(crowd).size).toBe(1000);
    expect(repeatsIn(crowd)).toBe(3000);
  });

  it('spreads repeats through the sequence instead of bunching them at the end', () => {
    const crowd = buildCrowd({ users: 20_000, requests: 10_000, duplicateRatio: 0.3, seed: 3 });
    const seen = new Set<string>();
    let repeatsInFirstHalf = 0;
    crowd.forEach((userId, i) => {
      if (seen.has(userId) && i < 5000) repeatsInFirstHalf++;
      seen.add(userId);
    });
    expect(repeatsInFirstHalf).toBeGreaterThan(1000);
    expect(repeatsInFirstHalf).toBeLessThan(2000);
  });

  it('uses only `requests` distinct users when there are fewer requests than users', () => {
    const crowd = buildCrowd({ users: 1000, requests: 50, duplicateRatio: 0, seed: 1 });
    expect(new Set(crowd).size).toBe(50);
  });

  it('keeps the first request a first-timer even at ratio 1, and honours userPrefix', () => {
    const crowd = buildCrowd({ users: 10, requests: 20, duplicateRatio: 1, userPrefix: 'buyer-' });
    expect(new Set(crowd).size).toBe(1);
    expect(crowd[0]).toMatch(/^buyer-\d$/);
  });

  it('handles the empty crowd and rejects nonsense', () => {
    expect(buildCrowd({ users: 0, requests: 0, duplicateRatio: 0 })).toEqual([]);
    expect(() => buildCrowd({ users: 0, requests: 1, duplicateRatio: 0 })).toThrow(RangeError);
    expect(() => buildCrowd({ users: 1, requests: 1.5, duplicateRatio: 0 })).toThrow(RangeError);
    expect(() => buildCrowd({ users: 1, requests: 1, duplicateRatio: 1.1 })).toThrow(RangeError);
  });
});

describe('classifyAnswer', () => {
  it('accepts each documented answer only under its own status code', () => {
    expect(classifyAnswer(201, '{"status":"ordered","orderId":"o1"}')).toEqual({
      outcome: 'ordered',
      orderId: 'o1',
    });
    expect(classifyAnswer(409, '{"status":"not_started"}').outcome).toBe('not_started');
    expect(classifyAnswer(410, '{"status":"sold_out"}').outcome).toBe('sold_out');
    expect(classifyAnswer(429, '{"status":"rate_limited"}').outcome).toBe('rate_limited');
    expect(classifyAnswer(503, '{"status":"busy"}').outcome).toBe('busy');
    expect(classifyAnswer(503, '{"error":{"code":"unavailable","message":"m"}}').outcome).toBe('busy');
    expect(classifyAnswer(500, '{"error":{"code":"unavailable","message":"m"}}').outcome).toBe('errors');
    expect(classifyAnswer(503, '{"error":{"code":"internal","message":"m"}}').outcome).toBe('errors');
    expect(classifyAnswer(200, '{"status":"ordered","orderId":"o1"}').outcome).toBe('errors');
    expect(classifyAnswer(201, '{"status":"ordered"}').outcome).toBe('errors');
    expect(classifyAnswer(409, '{"status":"sold_out"}').outcome).toBe('errors');
    expect(classifyAnswer(500, 'Internal Server Error').outcome).toBe('errors');
  });
});

describe('formatProgress', () => {
  it('prints one line with the counts that matter', () => {
    const outcomes: OutcomeCounts = {
      ordered: 800,
      sold_out: 400,
      duplicate: 0,
      busy: 0,
      rate_limited: 0,
      not_started: 0,
      ended: 0,
      errors: 0,
    };
    const p: CrowdProgress = { sent: 1200, done: 1220, elapsedMs: 400, outcomes, total: 20000 };
    expect(formatProgress(p)).toBe(
      'sent 1200/20000 · 3050 req/s · ordered 800 · sold_out 400 · busy 0 · errors 0',
    );
    expect(formatProgress({ ...p, outcomes: { ...outcomes, duplicate: 5 } })).toContain('duplicate 5');
  });
});

// A stand-in for the service: a user's first request orders while stock lasts, else sold out; a repeat user is
// a duplicate; every 7th request is turned away as busy before it is looked at (so it does not mark the user).
interface FakeShop {
  url: string;
  received: string[];
  counts: OutcomeCounts;
  orders: Map<string, string>; // orderId -> userId
  stock: () => number;
  close: () => Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, code: number, body: object): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function startFakeShop(initialStock: number, itemId: string): Promise<FakeShop> {
  const shop = {
    received: [] as string[],
    counts: emptyOutcomes(),
    orders: new Map<string, string>(),
  };
  let stock = initialStock;
  let requestNumber = 0;
  const seen = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    const { userId, itemId: askedItem } = JSON.parse(await readBody(req));
    if (req.method !== 'POST' || req.url !== '/seckill' || askedItem !== itemId) {
      shop.counts.errors++;
      return answer(res, 400, { status: 'bad_request' });
    }
    shop.received.push(userId);
    if (++requestNumber % 7 === 0) {
      shop.counts.busy++;
      return answer(res, 503, { status: 'busy' });
    }
    if (seen.has(userId)) {
      shop.counts.duplicate++;
      return answer(res, 409, { status: 'duplicate' });
    }
    seen.add(userId);
    if (stock === 0) {
      shop.counts.sold_out++;
      return answer(res, 410, { status: 'sold_out' });
    }
    stock--;
    const orderId = `order-${requestNumber}`;
    shop.orders.set(orderId, userId);
    shop.counts.ordered++;
    return answer(res, 201, { status: 'ordered', orderId });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...shop,
    url: `http://127.0.0.1:${port}`,
    stock: () => stock,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

describe('driveCrowd against a local stand-in service', () => {
  const itemId = 'item-1';
  let shop: FakeShop;

  afterEach(async () => {
    await shop?.close();
  });

  function plan(overrides: Partial<CrowdPlan> = {}): CrowdPlan {
    return {
      url: shop.url,
      itemId,
      users: 1000,
      requests: 3000,
      duplicateRatio: 0.3,
      connections: 20,
      seed: 11,
      sampleEveryMs: 50,
      ...overrides,
    };
  }

  it('sends every planned userId exactly as planned and counts what the service counted', async () => {
    shop = await startFakeShop(300, itemId);
    const progress: CrowdProgress[] = [];
    const p = plan({ onProgress: (x) => progress.push(x), sampleRemainingStock: async () => shop.stock() });
    const result = await driveCrowd(p);

    expect(sortedEntries(countBy(shop.received))).toEqual(sortedEntries(countBy(buildCrowd(p))));
    expect(result.requests).toBe(3000);
    expect(result.outcomes).toEqual(shop.counts);
    expect(result.outcomes.errors).toBe(0);
    expect(result.outcomes.ordered).toBe(300);

    expect(new Map(result.orders.map((o) => [o.orderId, o.userId]))).toEqual(shop.orders);
    expect(result.orders).toHaveLength(300);

    expect(sum(result.timeline.map((t) => t.requests))).toBe(3000);
    expect(sum(result.timeline.map((t) => t.ordered))).toBe(300);
    expect(result.timeline.at(-1)?.remainingStock).toBe(0);
    for (const [a, b] of result.timeline.slice(1).map((t, i) => [result.timeline[i], t])) {
      expect(b.tMs).toBeGreaterThanOrEqual(a.tMs);
      expect(b.remainingStock).toBeLessThanOrEqual(a.remainingStock);
    }

    const { p50, p95, p99, max } = result.latencyMs;
    expect(p50).toBeGreaterThan(0);
    expect(p50).toBeLessThanOrEqual(p95);
    expect(p95).toBeLessThanOrEqual(p99);
    expect(p99).toBeLessThanOrEqual(max);
    expect(result.ratePerSec).toBeGreaterThan(0);
    expect(result.timeToSellOutMs).not.toBeNull();
    expect(result.timeToSellOutMs).toBeLessThanOrEqual(result.durationMs);

    const last = progress.at(-1);
    expect(last).toMatchObject({ sent: 3000, done: 3000, total: 3000 });
    expect(last?.outcomes).toEqual(result.outcomes);
  });

  it('gives the same crowd the same answers from a fresh service on a second run', async () => {
    shop = await startFakeShop(50, itemId);
    const first = await driveCrowd(plan({ requests: 400, connections: 1 }));
    const firstReceived = shop.received;
    await shop.close();
    shop = await startFakeShop(50, itemId);
    const second = await driveCrowd(plan({ requests: 400, connections: 1 }));
    // One connection keeps the order too, so the whole exchange repeats.
    expect(shop.received).toEqual(firstReceived);
    expect(second.outcomes).toEqual(first.outcomes);
  });

  it('reports no sell-out when stock outlasts the crowd', async () => {
    shop = await startFakeShop(10_000, itemId);
    const result = await driveCrowd(plan({ requests: 500, duplicateRatio: 0 }));
    expect(result.timeToSellOutMs).toBeNull();
    expect(result.outcomes.sold_out).toBe(0);
    expect(result.timeline.every((t) => Number.isNaN(t.remainingStock))).toBe(true);
  });

  it('paces an open-model run at ratePerSec and still sends the whole crowd', async () => {
    shop = await startFakeShop(100, itemId);
    const result = await driveCrowd(plan({ requests: 300, ratePerSec: 200, connections: 10 }));
    expect(result.requests).toBe(300);
    expect(sortedEntries(countBy(shop.received))).toEqual(
      sortedEntries(countBy(buildCrowd(plan({ requests: 300 })))),
    );
    expect(result.outcomes).toEqual(shop.counts);
    // 300 requests at 200/s cannot finish inside the first second.
    expect(result.durationMs).toBeGreaterThanOrEqual(900);
    expect(result.ratePerSec).toBeGreaterThan(0);
    expect(result.ratePerSec).toBeLessThanOrEqual(400);
    // autocannon winds a rate-limited run down at its next per-second tick; that idle wait is not on the timeline.
    expect(result.timeline.at(-1)?.requests).toBeGreaterThan(0);
    expect(sum(result.timeline.map((t) => t.requests))).toBe(300);
  });

  it('counts answers it cannot read, and requests nobody answers, as errors', async () => {
    shop = await startFakeShop(0, itemId);
    let received = 0;
    const garbage = createServer((req, res) => {
      // Never answer the 50th request, so it times out; answer the rest with plain text.
      req.resume();
      req.on('end', () => (++received === 50 ? undefined : res.end('teapot')));
    });
    await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve));
    const { port } = garbage.address() as AddressInfo;
    try {
      const result = await driveCrowd(
        plan({ url: `http://127.0.0.1:${port}`, requests: 200, connections: 4, requestTimeoutSec: 1 }),
      );
      expect(result.requests).toBe(200);
      expect(received).toBe(200);
      expect(result.outcomes.errors).toBe(200);
      expect(sum(result.timeline.map((t) => t.requests))).toBe(200);
    } finally {
      garbage.closeAllConnections();
      await new Promise((resolve) => garbage.close(resolve));
    }
  });

  it('returns an empty result for an empty crowd without starting autocannon', async () => {
    shop = await startFakeShop(1, itemId);
    const result = await driveCrowd(plan({ requests: 0 }));
    expect(result.requests).toBe(0);
    expect(shop.received).toEqual([]);
  });
});

test("chaos buyers keep each error answer's status and body, and ask again until a final answer", async () => {
  let asked = 0;
  const server: Server = createServer((_req, res) => {
    asked++;
    if (asked === 1) return answer(res, 500, { error: { code: 'internal', message: 'internal error' } });
    return answer(res, 201, { status: 'ordered', orderId: 'o1' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const results = await runBuyers({
      urls: [`http://127.0.0.1:${port}`],
      itemId: '1',
      userIds: ['u1'],
      arrivalWindowMs: 0,
      pays: () => false,
      deadline: Date.now() + 10_000,
    });
    expect(results.answers.map((a) => [a.outcome, a.detail])).toEqual([
      ['errors', '500 {"error":{"code":"internal","message":"internal error"}}'],
      ['ordered', undefined],
    ]);
    expect(results.acknowledged).toEqual([{ orderId: 'o1', userId: 'u1' }]);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
