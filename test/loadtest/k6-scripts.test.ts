// k6 cannot be installed here, so these tests load the k6 scripts the way k6 would, minus k6: each ES module is
// transpiled to CommonJS with the typescript compiler and evaluated in a fresh vm context whose `require` serves
// stubs for the k6 modules (and the real ./lib.js, loaded the same way). The stubs record HTTP calls and counter
// samples and answer with canned responses, so options, setup, the purchase and teardown can all be exercised.
import { createHmac } from 'node:crypto';
// k6's sleep() advances a fake clock (the context's Date.now) instead of waiting, so drain timeouts take no time.
const FAKE_CLOCK_START_MS = Date.UTC(2026, 0, 1);
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';

import { jwtVerify } from 'jose';
import ts from 'typescript';

const LOADTEST_DIR = join(__dirname, '..', '..', 'loadtest');

interface StubResponse {
  status: number;
  body: string;
  json: () => unknown;
}

interface HttpCall {
  method: 'GET' | 'POST';
  url: string;
  body?: string;
  params?: { headers?: Record<string, string>; responseCallback?: unknown };
}

type Responder = (call: HttpCall) => { status: number; body?: unknown };

class K6Fail extends Error {}

interface K6Harness {
  exports: Record<string, unknown>;
  calls: HttpCall[];
  counterAdds: Record<string, number>;
  /** Values added to each Trend metric, in order. */
  trendAdds: Record<string, number[]>;
  responseCallbackStatuses: number[];
  respond: (responder: Responder) => void;
  setIds: (ids: { vu: number; iteration: number }) => void;
  /** Seconds passed to k6's sleep(), in order. */
  sleeps: number[];
}

function stubResponse(status: number, body: unknown): StubResponse {
  const text = body === undefined ? '' : JSON.stringify(body);
  return {
    status,
    body: text,
    json: () => JSON.parse(text),
  };
}

function transpileEsm(file: string): string {
  const source = readFileSync(file, 'utf8');
  const { outputText, diagnostics = [] } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020 },
    fileName: file,
    reportDiagnostics: true,
  });
  // transpileModule still emits code for a file with syntax errors; k6 would refuse it, so must we.
  if (diagnostics.length > 0) {
    const messages = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    throw new SyntaxError(`${file}: ${messages.join('; ')}`);
  }
  return outputText;
}

function loadScript(name: string, env: Record<string, string>): K6Harness {
  const calls: HttpCall[] = [];
  const counterAdds: Record<string, number> = {};
  const trendAdds: Record<string, number[]> = {};
  const responseCallbackStatuses: number[] = [];
  let responder: Responder = () => ({ status: 500 });
  const ids = { vu: 1, iteration: 0 };
  const sleeps: number[] = [];
  let clockMs = FAKE_CLOCK_START_MS;
  class FakeDate extends Date {
    static now(): number {
      return clockMs;
    }
  }

  const send = (call: HttpCall): StubResponse => {
    calls.push(call);
    const answer = responder(call);
    return stubResponse(answer.status, answer.body);
  };
  const http = {
    post: (url: string, body: string, params: HttpCall['params']) =>
      send({ method: 'POST', url, body, params }),
    get: (url: string, params: HttpCall['params']) => send({ method: 'GET', url, params }),
    expectedStatuses: (...statuses: number[]) => ({ statuses }),
    setResponseCallback: (callback: { statuses: number[] }) =>
      responseCallbackStatuses.push(...callback.statuses),
  };
  class Counter {
    constructor(private readonly metric: string) {}
    add(value: number): void {
      counterAdds[this.metric] = (counterAdds[this.metric] ?? 0) + value;
    }
  }
  class Trend {
    constructor(private readonly metric: string) {}
    add(value: number): void {
      (trendAdds[this.metric] ??= []).push(value);
    }
  }
  const execution = {
    vu: {
      get idInTest() {
        return ids.vu;
      },
    },
    scenario: {
      get iterationInTest() {
        return ids.iteration;
      },
    },
  };
  const k6Modules: Record<string, unknown> = {
    k6: {
      fail: (message: string) => {
        throw new K6Fail(message);
      },
      sleep: (seconds: number) => {
        sleeps.push(seconds);
        clockMs += seconds * 1000;
      },
    },
    'k6/http': { __esModule: true, default: http },
    'k6/metrics': { Counter, Trend },
    'k6/execution': { __esModule: true, default: execution },
    // What k6's own modules compute, with node:crypto, so a token minted by lib.js can be verified for real.
    'k6/crypto': {
      __esModule: true,
      default: {
        hmac: (algorithm: string, secret: string, data: string, output: string) => {
          if (output !== 'base64rawurl') throw new Error(`stub knows only base64rawurl, not ${output}`);
          return createHmac(algorithm, secret).update(data).digest('base64url');
        },
      },
    },
    'k6/encoding': {
      __esModule: true,
      default: {
        b64encode: (input: string, variant: string) => {
          if (variant !== 'rawurl') throw new Error(`stub knows only rawurl, not ${variant}`);
          return Buffer.from(input).toString('base64url');
        },
      },
    },
  };

  const context = vm.createContext({ __ENV: env, console: { log: () => undefined }, Date: FakeDate });
  const loaded = new Map<string, Record<string, unknown>>();
  const load = (file: string): Record<string, unknown> => {
    const cached = loaded.get(file);
    if (cached) return cached;
    const module = { exports: {} as Record<string, unknown> };
    loaded.set(file, module.exports);
    const requireStub = (specifier: string): unknown => {
      if (specifier in k6Modules) return k6Modules[specifier];
      if (specifier.startsWith('./')) return load(join(LOADTEST_DIR, specifier));
      throw new Error(`${file} imports ${specifier}, which k6 would not provide offline`);
    };
    const wrapper = `(function (require, module, exports) {\n${transpileEsm(file)}\n})`;
    const evaluate = vm.runInContext(wrapper, context, { filename: file });
    evaluate(requireStub, module, module.exports);
    return module.exports;
  };

  return {
    exports: load(join(LOADTEST_DIR, name)),
    calls,
    counterAdds,
    trendAdds,
    responseCallbackStatuses,
    respond: (next) => {
      responder = next;
    },
    setIds: (next) => Object.assign(ids, next),
    sleeps,
  };
}

type K6Function = (...args: unknown[]) => unknown;

function fn(harness: K6Harness, name: string): K6Function {
  const value = harness.exports[name];
  if (typeof value !== 'function') throw new Error(`export ${name} is not a function`);
  return value as K6Function;
}

function statsItem(overrides: Record<string, number>) {
  return {
    itemId: '7',
    initialStock: 100,
    redisRemaining: 0,
    activeOrders: 100,
    paidOrders: 0,
    cancelledOrders: 0,
    dbStock: 0,
    outboxPending: 0,
    consumerLag: 0,
    oversell: 0,
    undersell: 0,
    dbDrift: 0,
    ...overrides,
  };
}

const SCRIPTS = [
  { file: 'spike.js', scenario: 'spike', executor: 'ramping-arrival-rate', healthyActiveOrders: 100 },
  { file: 'fairness.js', scenario: 'fairness', executor: 'per-vu-iterations', healthyActiveOrders: 100 },
  { file: 'duplicates.js', scenario: 'duplicates', executor: 'per-vu-iterations', healthyActiveOrders: 5 },
];

const DATA = { itemId: '7', stock: 100, runId: 'run1' };

describe.each(SCRIPTS)('loadtest/$file', ({ file, scenario, executor, healthyActiveOrders }) => {
  let k6: K6Harness;
  beforeEach(() => {
    k6 = loadScript(file, { ADMIN_TOKEN: 'sekret', BASE_URL: 'http://sut:3000/' });
  });

  it(`runs scenario "${scenario}" with the ${executor} executor`, () => {
    const options = k6.exports.options as {
      scenarios: Record<string, { executor: string; exec?: string }>;
      thresholds: Record<string, string[]>;
    };
    expect(Object.keys(options.scenarios)).toEqual([scenario]);
    const config = options.scenarios[scenario];
    expect(config.executor).toBe(executor);
    expect(typeof fn(k6, config.exec ?? 'default')).toBe('function');
    expect(options.thresholds.http_req_duration).toEqual([
      expect.stringMatching(/^p\(95\)</),
      expect.stringMatching(/^p\(99\)</),
    ]);
    expect(options.thresholds.http_req_failed).toEqual(['rate<0.01']);
    expect(options.thresholds.errors).toEqual(['count==0']);
    expect(options.thresholds.orders).toHaveLength(1);
  });

  it('exports default, setup, teardown and handleSummary', () => {
    for (const name of ['default', 'setup', 'teardown', 'handleSummary']) {
      expect(typeof k6.exports[name]).toBe('function');
    }
  });

  it('treats every contract answer of POST /seckill as an expected response', () => {
    expect(k6.responseCallbackStatuses).toEqual([201, 409, 410, 429, 503]);
  });

  it('creates the sale in setup with the admin token', () => {
    k6.respond(() => ({ status: 201, body: { itemId: '7', stock: 100, segments: 8 } }));
    const data = fn(k6, 'setup')() as { itemId: string; runId: string };
    expect(data.itemId).toBe('7');
    expect(k6.calls).toHaveLength(1);
    const [call] = k6.calls;
    expect(call.url).toBe('http://sut:3000/admin/sales');
    expect(call.params?.headers?.Authorization).toBe('Bearer sekret');
    expect(JSON.parse(call.body ?? '')).toEqual({
      name: expect.stringContaining(scenario),
      stock: 100,
      segments: 8,
    });
  });

  it('fails setup when the sale cannot be created', () => {
    k6.respond(() => ({ status: 401, body: { error: { code: 'unauthorized', message: 'no' } } }));
    expect(() => fn(k6, 'setup')()).toThrow(K6Fail);
  });

  it('buys as a valid user and counts the order', () => {
    k6.respond(() => ({ status: 201, body: { status: 'ordered', orderId: '123' } }));
    k6.setIds({ vu: 4, iteration: 9 });
    fn(k6, 'default')(DATA);
    const [call] = k6.calls;
    expect(call.url).toBe('http://sut:3000/seckill');
    expect(call.params?.headers?.['Content-Type']).toBe('application/json');
    const body = JSON.parse(call.body ?? '') as { userId: string; itemId: string };
    expect(body.itemId).toBe('7');
    expect(body.userId).toMatch(/^run1-[A-Za-z0-9_-]+$/);
    expect(body.userId.length).toBeLessThanOrEqual(64);
    expect(k6.counterAdds).toEqual({ orders: 1 });
  });

  it('passes teardown when the item reconciles', () => {
    k6.respond(() => ({ status: 200, body: { items: [statsItem({ activeOrders: healthyActiveOrders })] } }));
    expect(() => fn(k6, 'teardown')(DATA)).not.toThrow();
    expect(k6.calls[0]).toMatchObject({ method: 'GET', url: 'http://sut:3000/stats' });
    // Its 200 is expected: the purchase's callback alone would count every poll in http_req_failed.
    expect(k6.calls[0].params).toMatchObject({ responseCallback: { statuses: [200] } });
  });

  it.each<Record<string, number>>([{ oversell: 1 }, { undersell: 1 }, { undersell: -2 }, { dbDrift: 3 }])(
    'fails teardown when %o',
    (bad) => {
      k6.respond(() => ({
        status: 200,
        body: {
          items: [
            statsItem({ itemId: 3, oversell: 5 }),
            statsItem({ activeOrders: healthyActiveOrders, ...bad }),
          ],
        },
      }));
      expect(() => fn(k6, 'teardown')(DATA)).toThrow(K6Fail);
    },
  );

  it('waits for the outbox and the consumer to drain before judging dbDrift', () => {
    // In flight: dbDrift is what the consumer has yet to apply, not a fault; the drained answer reconciles.
    const inFlight = [
      statsItem({ activeOrders: healthyActiveOrders, outboxPending: 73, consumerLag: 10, dbDrift: 97 }),
      statsItem({ activeOrders: healthyActiveOrders, outboxPending: 0, consumerLag: 24, dbDrift: 24 }),
      statsItem({ activeOrders: healthyActiveOrders, outboxPending: 0, consumerLag: 0, dbDrift: 0 }),
    ];
    let polls = 0;
    k6.respond(() => ({ status: 200, body: { items: [inFlight[Math.min(polls++, inFlight.length - 1)]] } }));
    expect(() => fn(k6, 'teardown')(DATA)).not.toThrow();
    expect(polls).toBe(3);
    expect(k6.sleeps).toHaveLength(2);
  });

  it('fails teardown when drained but the database stock disagrees', () => {
    k6.respond(() => ({
      status: 200,
      body: { items: [statsItem({ activeOrders: healthyActiveOrders, dbDrift: 2 })] },
    }));
    expect(() => fn(k6, 'teardown')(DATA)).toThrow(/dbDrift=2/);
  });

  it.each<Record<string, number>>([{ outboxPending: 73 }, { consumerLag: 5 }])(
    'fails teardown when the sale never drains (%o), after DRAIN_TIMEOUT_S',
    (stuck) => {
      const bounded = loadScript(file, { ADMIN_TOKEN: 'sekret', DRAIN_TIMEOUT_S: '10' });
      bounded.respond(() => ({
        status: 200,
        body: { items: [statsItem({ activeOrders: healthyActiveOrders, ...stuck })] },
      }));
      expect(() => fn(bounded, 'teardown')(DATA)).toThrow(/did not drain within 10 s/);
      const slept = bounded.sleeps.reduce((sum, seconds) => sum + seconds, 0);
      expect(slept).toBeGreaterThanOrEqual(10);
      expect(slept).toBeLessThan(11);
    },
  );

  it('fails teardown when /stats does not know the item', () => {
    k6.respond(() => ({ status: 200, body: { items: [] } }));
    expect(() => fn(k6, 'teardown')(DATA)).toThrow(/no item 7/);
  });

  it('writes a JSON summary and a text summary without remote imports', () => {
    const summary = {
      metrics: {
        http_reqs: { values: { count: 10, rate: 5 } },
        http_req_duration: {
          values: { med: 1.5, 'p(95)': 4, 'p(99)': 9.25, max: 12 },
          thresholds: { 'p(95)<500': { ok: true } },
        },
        orders: { values: { count: 3 }, thresholds: { 'count==100': { ok: false } } },
      },
    };
    const out = fn(k6, 'handleSummary')(summary) as Record<string, string>;
    expect(Object.keys(out).sort()).toEqual([`summary-${scenario}.json`, 'stdout'].sort());
    expect(JSON.parse(out[`summary-${scenario}.json`])).toEqual(summary);
    expect(out.stdout).toContain('p99 9.3 ms');
    expect(out.stdout).toContain('orders=3');
    expect(out.stdout).toContain('FAIL orders count==100');
    expect(readFileSync(join(LOADTEST_DIR, file), 'utf8')).not.toMatch(/from ['"]https?:/);
  });
});

describe('loadtest/lib.js buy()', () => {
  const cases: Array<[number, unknown, string]> = [
    [201, { status: 'ordered', orderId: '1' }, 'orders'],
    [409, { status: 'duplicate' }, 'duplicates'],
    [410, { status: 'sold_out' }, 'sold_out'],
    [429, { status: 'rate_limited' }, 'rate_limited'],
    [503, { status: 'busy' }, 'busy'],
    [409, { status: 'not_started' }, 'sale_closed'],
    [409, { status: 'ended' }, 'sale_closed'],
    [409, { status: 'something else' }, 'errors'],
    [400, { error: { code: 'bad_request', message: 'x' } }, 'errors'],
    [500, undefined, 'errors'],
  ];

  it.each(cases)('classifies %i %o as %s', (status, body, outcome) => {
    const k6 = loadScript('lib.js', {});
    k6.respond(() => ({ status, body }));
    expect(fn(k6, 'buy')('u1', '7')).toBe(outcome);
    expect(k6.counterAdds).toEqual({ [outcome]: 1 });
  });

  it('defaults BASE_URL to 127.0.0.1:3000 and refuses setup without a token', () => {
    const k6 = loadScript('lib.js', {});
    expect(k6.exports.BASE_URL).toBe('http://127.0.0.1:3000');
    expect(() => fn(k6, 'setupSale')('spike', { stock: 1, segments: 1 })).toThrow(/ADMIN_TOKEN/);
  });

  it('uses ITEM_ID instead of creating a sale', () => {
    const k6 = loadScript('lib.js', { ITEM_ID: '42' });
    expect(fn(k6, 'setupSale')('spike', { stock: 1, segments: 1 })).toMatchObject({ itemId: '42' });
    expect(k6.calls).toHaveLength(0);
  });
});

describe('loadtest/lib.js buyer tokens (BUYER_AUTH=token)', () => {
  const secret = 'k6-test-secret-0123456789abcdef0123456789';

  it('mints an HS256 token the service would accept: sub = userId, exp an hour ahead', async () => {
    const k6 = loadScript('lib.js', { BUYER_TOKEN_SECRET: secret });
    const token = fn(k6, 'buyerToken')('u7') as string;
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp'],
      currentDate: new Date(FAKE_CLOCK_START_MS), // the script minted it on the fake clock
    });
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sub).toBe('u7');
    expect(payload.exp! - payload.iat!).toBe(3600);
    await expect(jwtVerify(token, new TextEncoder().encode(`${secret}x`))).rejects.toThrow();
  });

  it('sends the token with each purchase, and none without a secret', () => {
    const withSecret = loadScript('lib.js', { BUYER_TOKEN_SECRET: secret });
    withSecret.respond(() => ({ status: 201, body: { status: 'ordered', orderId: '1' } }));
    fn(withSecret, 'buy')('u1', '7');
    expect(withSecret.calls[0].params?.headers?.Authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const open = loadScript('lib.js', {});
    open.respond(() => ({ status: 201, body: { status: 'ordered', orderId: '1' } }));
    fn(open, 'buy')('u1', '7');
    expect(open.calls[0].params?.headers?.Authorization).toBeUndefined();
  });
});

describe('loadtest/waiting-room.js', () => {
  const ROOM_URL = 'http://sut:3000/sales/7/waiting-room';
  const waiting = (extra: Record<string, unknown> = {}) => ({
    state: 'waiting',
    position: 3,
    ahead: 2,
    serving: 0,
    waiting: 3,
    estimatedWaitMs: 1000,
    unitsLeft: 100,
    unlikely: false,
    ...extra,
  });
  const admitted = { ...waiting({ ahead: 0 }), state: 'admitted', pass: 'the-pass', passExpiresAt: 'x' };

  /** Answers the join with `joined`, each status poll with the next of `polls` (the last repeats), purchases with `buys`. */
  function visitor(
    k6: K6Harness,
    script: {
      joined: { status: number; body?: unknown };
      polls?: unknown[];
      buys?: { status: number; body: unknown }[];
    },
  ) {
    let poll = 0;
    let purchase = 0;
    k6.respond((call) => {
      if (call.method === 'POST' && call.url === ROOM_URL) return script.joined;
      if (call.method === 'GET' && call.url === ROOM_URL) {
        const answer = script.polls![Math.min(poll++, script.polls!.length - 1)];
        return typeof answer === 'number' ? { status: answer } : { status: 200, body: answer };
      }
      if (call.method === 'POST' && call.url === 'http://sut:3000/seckill')
        return script.buys![Math.min(purchase++, script.buys!.length - 1)];
      return { status: 500 };
    });
  }

  let k6: K6Harness;
  beforeEach(() => {
    k6 = loadScript('waiting-room.js', { ADMIN_TOKEN: 'sekret', BASE_URL: 'http://sut:3000/' });
    k6.setIds({ vu: 4, iteration: 0 });
  });

  it('runs one visit per VU, with thresholds on the status polls, the purchases and 5xx', () => {
    const options = k6.exports.options as {
      scenarios: Record<string, { executor: string; exec: string; vus: number; iterations: number }>;
      thresholds: Record<string, string[]>;
    };
    expect(options.scenarios).toEqual({
      'waiting-room': expect.objectContaining({
        executor: 'per-vu-iterations',
        exec: 'visit',
        vus: 300,
        iterations: 1,
      }),
    });
    expect(typeof fn(k6, 'visit')).toBe('function');
    expect(options.thresholds).toMatchObject({
      http_req_failed: ['rate<0.01'],
      errors: ['count==0'],
      server_errors: ['count==0'],
      room_gave_up: ['count==0'],
      orders: ['count==100'],
      'http_req_duration{name:GET /sales/:itemId/waiting-room}': ['p(95)<200'],
      'http_req_duration{name:POST /seckill}': ['p(95)<500'],
    });
    for (const name of ['default', 'setup', 'teardown', 'handleSummary'])
      expect(typeof k6.exports[name]).toBe('function');
  });

  it('creates its sale with a fifo waiting room in setup', () => {
    k6.respond(() => ({ status: 201, body: { itemId: '7', stock: 100 } }));
    const data = fn(k6, 'setup')() as { itemId: string };
    expect(data.itemId).toBe('7');
    expect(k6.calls[0].url).toBe('http://sut:3000/admin/sales');
    expect(k6.calls[0].params?.headers?.Authorization).toBe('Bearer sekret');
    expect(JSON.parse(k6.calls[0].body ?? '')).toEqual({
      name: expect.stringContaining('waiting-room'),
      stock: 100,
      segments: 8,
      admission: { mode: 'fifo', ratePerSec: 50 },
    });
    const capped = loadScript('waiting-room.js', { ADMIN_TOKEN: 'sekret', MAX_UNFINISHED: '20', RATE: '5' });
    capped.respond(() => ({ status: 201, body: { itemId: '7', stock: 100 } }));
    fn(capped, 'setup')();
    expect(JSON.parse(capped.calls[0].body ?? '').admission).toEqual({
      mode: 'fifo',
      ratePerSec: 5,
      maxUnfinished: 20,
    });
  });

  it('joins, polls with its ticket once a second until admitted, then buys with the pass', () => {
    visitor(k6, {
      joined: { status: 200, body: { ticket: 'tkt', ...waiting() } },
      polls: [waiting(), admitted],
      buys: [{ status: 201, body: { status: 'ordered', orderId: '1' } }],
    });
    fn(k6, 'visit')(DATA);
    const [joinCall, ...rest] = k6.calls;
    expect(joinCall).toMatchObject({ method: 'POST', url: ROOM_URL });
    expect(JSON.parse(joinCall.body ?? '')).toEqual({ userId: 'run1-room-4' });
    // The room's 200 is expected; the purchase's callback alone would count every poll as failed.
    expect(joinCall.params?.responseCallback).toEqual({ statuses: [200] });
    const polls = rest.filter((call) => call.method === 'GET');
    expect(polls).toHaveLength(2);
    for (const call of polls) {
      expect(call.params?.headers).toEqual({ 'Waiting-Room-Ticket': 'tkt' });
      expect(call.params?.responseCallback).toEqual({ statuses: [200] });
    }
    expect(k6.sleeps).toEqual([1, 1]);
    const purchase = k6.calls[k6.calls.length - 1];
    expect(purchase.url).toBe('http://sut:3000/seckill');
    expect(JSON.parse(purchase.body ?? '')).toEqual({ userId: 'run1-room-4', itemId: '7', pass: 'the-pass' });
    expect(k6.counterAdds).toEqual({ room_polls: 2, room_admitted: 1, orders: 1 });
    expect(k6.trendAdds.room_wait).toHaveLength(1);
  });

  it('buys again with the same pass while the answer is busy', () => {
    visitor(k6, {
      joined: { status: 200, body: { ticket: 'tkt', ...admitted } },
      buys: [
        { status: 503, body: { status: 'busy' } },
        { status: 201, body: { status: 'ordered', orderId: '1' } },
      ],
    });
    fn(k6, 'visit')(DATA);
    const purchases = k6.calls.filter((call) => call.url === 'http://sut:3000/seckill');
    expect(purchases.map((call) => JSON.parse(call.body ?? '').pass)).toEqual(['the-pass', 'the-pass']);
    expect(k6.counterAdds).toEqual({ room_admitted: 1, busy: 1, orders: 1 });
  });

  it('stops at sold out without buying', () => {
    visitor(k6, {
      joined: { status: 200, body: { ticket: 'tkt', ...waiting() } },
      polls: [{ ...waiting(), state: 'sold_out' }],
    });
    fn(k6, 'visit')(DATA);
    expect(k6.calls.some((call) => call.url === 'http://sut:3000/seckill')).toBe(false);
    expect(k6.counterAdds).toEqual({ room_polls: 1, room_sold_out: 1 });
  });

  it('counts a 5xx status answer as a server error and an error, and ends the visit', () => {
    visitor(k6, { joined: { status: 200, body: { ticket: 'tkt', ...waiting() } }, polls: [500] });
    fn(k6, 'visit')(DATA);
    expect(k6.counterAdds).toEqual({ room_polls: 1, errors: 1, server_errors: 1 });
    const refused = loadScript('waiting-room.js', { ADMIN_TOKEN: 'sekret', BASE_URL: 'http://sut:3000' });
    visitor(refused, { joined: { status: 404, body: { error: { code: 'no_waiting_room', message: 'x' } } } });
    fn(refused, 'visit')(DATA);
    expect(refused.counterAdds).toEqual({ errors: 1 });
  });

  it('gives up after MAX_WAIT_S, counted against its threshold', () => {
    const patient = loadScript('waiting-room.js', {
      ADMIN_TOKEN: 'sekret',
      BASE_URL: 'http://sut:3000',
      MAX_WAIT_S: '5',
    });
    visitor(patient, { joined: { status: 200, body: { ticket: 'tkt', ...waiting() } }, polls: [waiting()] });
    fn(patient, 'visit')(DATA);
    expect(patient.counterAdds).toEqual({ room_polls: 5, room_gave_up: 1 });
  });

  it('judges the sale in teardown like the other scenarios', () => {
    k6.respond(() => ({ status: 200, body: { items: [statsItem({ activeOrders: 100 })] } }));
    expect(() => fn(k6, 'teardown')(DATA)).not.toThrow();
    k6.respond(() => ({ status: 200, body: { items: [statsItem({ activeOrders: 100, oversell: 1 })] } }));
    expect(() => fn(k6, 'teardown')(DATA)).toThrow(K6Fail);
    k6.respond(() => ({ status: 200, body: { items: [statsItem({ activeOrders: 60 })] } }));
    expect(() => fn(k6, 'teardown')(DATA)).toThrow(/orders=60/);
  });

  it("reports the room's counters and the status polls' latency in its summary", () => {
    const summary = {
      metrics: {
        http_reqs: { values: { count: 10, rate: 5 } },
        http_req_duration: { values: { med: 1, 'p(95)': 4, 'p(99)': 9, max: 12 } },
        'http_req_duration{name:GET /sales/:itemId/waiting-room}': {
          values: { 'p(95)': 3.25, 'p(99)': 7 },
          thresholds: { 'p(95)<200': { ok: true } },
        },
        room_admitted: { values: { count: 100 } },
        room_sold_out: { values: { count: 200 } },
        room_wait: { values: { med: 1500, max: 4000 } },
      },
    };
    const out = fn(k6, 'handleSummary')(summary) as Record<string, string>;
    expect(Object.keys(out).sort()).toEqual(['stdout', 'summary-waiting-room.json']);
    expect(out.stdout).toContain('room_admitted=100 room_sold_out=200');
    expect(out.stdout).toContain('status polls: p95 3.3 ms');
    expect(out.stdout).toContain('wait for a pass: p50 1500.0 ms');
    expect(out.stdout).toContain('ok   http_req_duration{name:GET /sales/:itemId/waiting-room} p(95)<200');
    expect(readFileSync(join(LOADTEST_DIR, 'waiting-room.js'), 'utf8')).not.toMatch(/from ['"]https?:/);
  });
});
