// The crowd of `--compare-admission`: visitors who arrive over time, each with a way of behaving, and the driver that
// plays them against one sale: straight at POST /seckill when the sale has no waiting room (off), or join → poll →
// buy with the pass when it has one (fifo, random). Every visitor's arrival at the edge (their first request leaving
// the load generator) is recorded with what became of them, for fairness.ts.
//
// Unlike load-driver.ts (autocannon, one request per planned entry) a visitor is a small program of its own: it
// waits, polls, retries and buys, so each is an async loop over node:http with one keep-alive agent.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

import { classifyAnswer, emptyOutcomes } from './load-driver';
import { mulberry32, randomBelow } from './random';
import type { LatencySummary, OutcomeCounts, TimelinePoint } from './report-types';

export type VisitorKind = 'patient' | 'impatient' | 'bot';
export type AdmissionMode = 'off' | 'fifo' | 'random';

/** The crowd and rooms of `--compare-admission` unless told otherwise (README names them). */
export const ADMISSION_DEFAULTS = {
  /** Visitors per unit of stock. */
  visitorsPerUnit: 20,
  arrivalWindowMs: 3000,
  botShare: 0.1,
  accountsPerBot: 5,
  impatientShare: 0.2,
  /**
   * The room's inlet. No rate: the cap on unfinished admissions meters it (a purchase answered lets the next one
   * in), so it goes as fast as buyers buy, and the status's estimated wait is the pace the room was watched at.
   * Both caps are small: a few purchases under way at once keep up with the buyers, and many would undo what the
   * room is for (a cap of 20 let so many purchases run at once that the purchase p99 behind the lottery was no lower
   * than without a room).
   */
  ratePerSec: 0,
  maxUnfinished: 5,
  randomMaxUnfinished: 5,
  passTtlMs: 30_000,
  /** random: the pre-queue opens as the crowd starts and the sale starts this much later. */
  preQueueMs: 1500,
  /** Visitors still waiting this long after the crowd's start give up. */
  maxDurationMs: 120_000,
};

export type AdmissionCrowd = Omit<typeof ADMISSION_DEFAULTS, 'visitorsPerUnit'>;

export interface VisitorCrowdOptions {
  /** Accounts (distinct userIds) in the crowd: humans have one each, bots several. */
  visitors: number;
  /** Arrivals spread uniformly (a Poisson process's conditional shape) over [0, arrivalWindowMs). */
  arrivalWindowMs: number;
  /** Share of the accounts owned by bots. */
  botShare: number;
  accountsPerBot: number;
  /** Share of the human accounts who are impatient. */
  impatientShare: number;
  seed: number;
  userPrefix?: string;
}

export interface PlannedVisitor {
  userId: string;
  /** Who is behind the account: the account itself for a human, `bot<k>` for a bot's accounts. */
  owner: string;
  kind: VisitorKind;
  /** When the visitor arrives, from the crowd's start. */
  arriveAtMs: number;
}

/** How each kind behaves: the defaults README names. */
export const BEHAVIOUR = {
  /** A patient human polls the room once a second; impatient ones and bots twice. */
  pollMs: { patient: 1000, impatient: 500, bot: 500 },
  /** A patient human whom the room tells the wait is over farWaitMs polls every farPollMs instead. */
  farWaitMs: 10_000,
  farPollMs: 3000,
  /** An impatient visitor joins again every this many polls (the same place: the join is idempotent). */
  impatientRejoinEvery: 4,
  /** Off: after a final "no" (sold out), an impatient human tries this many more times, a bot's account too. */
  hammerRetries: { patient: 0, impatient: 3, bot: 5 },
  hammerGapMs: 200,
  /** Parallel requests a bot sends for each account (its extra connections): several joins keep one place. */
  botConnections: 3,
  /** A bot's accounts arrive this far apart. */
  botAccountGapMs: 5,
  /** A busy answer is asked again after this long. */
  busyRetryMs: 100,
  busyRetries: 20,
  /** room_not_open or a status that is not an answer: ask again after this long. */
  retryMs: 250,
} as const;

/** The crowd, in arrival order. Pure: the same options give the same crowd. */
export function planVisitors(options: VisitorCrowdOptions): PlannedVisitor[] {
  const { visitors, arrivalWindowMs, botShare, accountsPerBot, impatientShare, seed } = options;
  if (!Number.isInteger(visitors) || visitors < 0) throw new RangeError('visitors must be an integer >= 0');
  if (!(botShare >= 0 && botShare <= 1)) throw new RangeError('botShare must be in [0, 1]');
  if (!(impatientShare >= 0 && impatientShare <= 1)) throw new RangeError('impatientShare must be in [0, 1]');
  if (!(accountsPerBot >= 1)) throw new RangeError('accountsPerBot must be >= 1');
  const random = mulberry32(seed);
  const bots = Math.floor(Math.round(visitors * botShare) / accountsPerBot);
  const humans = visitors - bots * accountsPerBot;
  const owners: { owner: string; kind: VisitorKind; accounts: number; at: number }[] = [];
  for (let b = 0; b < bots; b++)
    owners.push({ owner: `bot${b}`, kind: 'bot', accounts: accountsPerBot, at: random() * arrivalWindowMs });
  for (let h = 0; h < humans; h++) {
    const kind = random() < impatientShare ? 'impatient' : 'patient';
    owners.push({ owner: '', kind, accounts: 1, at: random() * arrivalWindowMs });
  }
  const planned = owners.flatMap(({ owner, kind, accounts, at }) =>
    Array.from({ length: accounts }, (_, j) => ({
      owner,
      kind,
      arriveAtMs: Math.round(at + j * BEHAVIOUR.botAccountGapMs),
    })),
  );
  // Arrival order; ties broken by a seeded coin so that no kind always goes first.
  const tieBreak = planned.map(() => random());
  const order = planned
    .map((_, i) => i)
    .sort((a, b) => planned[a].arriveAtMs - planned[b].arriveAtMs || tieBreak[a] - tieBreak[b]);
  // userIds are shuffled numbers, so that neither the service nor a reader can tell arrival order from the id.
  const numbers = Array.from({ length: planned.length }, (_, n) => n);
  for (let i = numbers.length - 1; i > 0; i--) {
    const j = randomBelow(random, i + 1);
    [numbers[i], numbers[j]] = [numbers[j], numbers[i]];
  }
  const prefix = options.userPrefix ?? 'v';
  return order.map((index, rank) => {
    const visitor = planned[index];
    const userId = `${prefix}${numbers[rank]}`;
    return { ...visitor, userId, owner: visitor.owner || userId };
  });
}

/** What became of one account. Times are ms from the crowd's start (performance clock). */
export interface VisitorRecord {
  userId: string;
  owner: string;
  kind: VisitorKind;
  /** The first request of this account left the load generator. */
  arrivedAtMs: number;
  /** Room modes: the status carrying a pass reached the visitor. */
  admittedAtMs?: number;
  /** Room modes: when the room admitted the ticket (its pass's expiry less its lifetime), epoch ms. */
  admissionAt?: number;
  /** Room modes: the ticket number (read from the ticket's claims). */
  ticket?: number;
  /** The `ordered` answer reached the visitor. */
  orderedAtMs?: number;
  orderId?: string;
  /** The room (or, off, the purchase) said sold out before this visitor was admitted. */
  toldSoldOutWaiting: boolean;
  /** ordered, sold_out, duplicate, expired (pass lapsed), gave_up (deadline), error:<code>. */
  outcome: string;
  requests: number;
}

export interface VisitorRunPlan {
  url: string;
  itemId: string;
  mode: AdmissionMode;
  crowd: PlannedVisitor[];
  /** Pass lifetime of the room, to read the admission time back from passExpiresAt. */
  passTtlMs: number;
  /** Visitors still waiting after this long give up (a safety cap). */
  maxDurationMs: number;
  sampleEveryMs?: number;
  onSample?: (elapsedMs: number) => void;
  sampleRemainingStock?: () => Promise<number>;
  /** Connections opened beforehand (openVisitorAgent); closed at the end. */
  agent?: http.Agent;
}

export interface VisitorRunResult {
  /** Epoch ms of the crowd's start (arrival offsets count from it). */
  startedAt: number;
  durationMs: number;
  requests: number;
  /** Requests by route. */
  requestsByRoute: { purchase: number; join: number; status: number };
  /** Answers to POST /seckill only. */
  outcomes: OutcomeCounts;
  /** Every POST /seckill latency, ms. */
  purchaseLatencies: number[];
  /** Every request's latency, ms. */
  latencies: number[];
  timeline: TimelinePoint[];
  timeToSellOutMs: number | null;
  records: VisitorRecord[];
}

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
  text: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Plays the crowd against one sale; resolves when every visitor is done (or gave up). */
export async function driveVisitors(plan: VisitorRunPlan): Promise<VisitorRunResult> {
  const base = new URL(plan.url);
  const agent = plan.agent ?? (await openVisitorAgent(plan.url));
  await loadSale(agent, base, plan);
  const t0 = performance.now();
  const startedAt = Date.now();
  const elapsed = () => performance.now() - t0;
  const deadline = t0 + plan.maxDurationMs;
  const outcomes = emptyOutcomes();
  const purchaseLatencies: number[] = [];
  const latencies: number[] = [];
  const byRoute = { purchase: 0, join: 0, status: 0 };
  const timeline: TimelinePoint[] = [];
  let bucket = { requests: 0, ordered: 0, latencies: [] as number[] };
  let firstSoldOut: number | null = null;
  const soldOutSeen = () => (firstSoldOut ??= elapsed());

  /**
   * One request; a keep-alive connection the server closed as it was reused is asked again at once on another (the
   * race Node's documentation describes for reused sockets), once: that is the load generator's, not an answer.
   */
  function send(
    method: string,
    path: string,
    payload: string | undefined,
    headers: Record<string, string>,
    again = true,
  ): Promise<Answer> {
    return new Promise<Answer>((resolve) => {
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          path,
          method,
          agent,
          headers: payload ? { 'content-type': 'application/json', ...headers } : headers,
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: Record<string, unknown> | undefined;
            try {
              parsed = JSON.parse(text) as Record<string, unknown>;
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, text });
          });
          res.on('error', () => resolve({ status: 0, body: undefined, text: '' }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (again && req.reusedSocket && err.code === 'ECONNRESET') {
          resolve(send(method, path, payload, headers, false));
        } else {
          resolve({ status: 0, body: undefined, text: err.code ?? err.message });
        }
      });
      req.end(payload);
    });
  }

  function request(
    route: keyof typeof byRoute,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const sentAt = performance.now();
    byRoute[route]++;
    return send(method, path, payload, headers).then((answer) => {
      const latency = performance.now() - sentAt;
      latencies.push(latency);
      bucket.requests++;
      bucket.latencies.push(latency);
      if (route === 'purchase') purchaseLatencies.push(latency);
      return answer;
    });
  }

  const purchase = async (record: VisitorRecord, pass?: string) => {
    record.requests++;
    const answer = await request('purchase', 'POST', '/seckill', {
      userId: record.userId,
      itemId: plan.itemId,
      ...(pass === undefined ? {} : { pass }),
    });
    const { outcome, orderId } = classifyAnswer(answer.status, answer.text);
    outcomes[outcome]++;
    if (outcome === 'sold_out') soldOutSeen();
    if (orderId !== undefined && record.orderId === undefined) {
      record.orderId = orderId;
      record.orderedAtMs = elapsed();
      bucket.ordered++;
    }
    const code = (answer.body?.error as { code?: string } | undefined)?.code;
    return outcome === 'errors' ? `error:${code ?? answer.status}` : outcome;
  };

  /** Off: straight at POST /seckill; busy and not_started are asked again, a final no maybe hammered. */
  async function buyStraight(record: VisitorRecord, hammer: number): Promise<string> {
    let busy = 0;
    for (;;) {
      if (performance.now() > deadline) return 'gave_up';
      const outcome = await purchase(record);
      if (outcome === 'ordered' || outcome === 'duplicate') return outcome;
      if (outcome === 'busy' && busy++ < BEHAVIOUR.busyRetries) await sleep(BEHAVIOUR.busyRetryMs);
      else if (outcome === 'not_started') await sleep(BEHAVIOUR.pollMs[record.kind]);
      else if (hammer-- > 0) await sleep(BEHAVIOUR.hammerGapMs);
      else return outcome;
    }
  }

  const joinPath = `/sales/${encodeURIComponent(plan.itemId)}/waiting-room`;
  const join = (record: VisitorRecord) => {
    record.requests++;
    return request('join', 'POST', joinPath, { userId: record.userId });
  };
  const status = (record: VisitorRecord, ticket: string) => {
    record.requests++;
    return request('status', 'GET', joinPath, undefined, { 'waiting-room-ticket': ticket });
  };

  /** Room modes: join (a bot: several at once), poll, buy with the pass once admitted. */
  async function visitRoom(record: VisitorRecord): Promise<string> {
    const joins = record.kind === 'bot' ? BEHAVIOUR.botConnections : 1;
    let answer: Answer | undefined;
    while (!answer || answer.status !== 200) {
      if (performance.now() > deadline) return 'gave_up';
      if (answer) await sleep(BEHAVIOUR.retryMs);
      const answers = await Promise.all(Array.from({ length: joins }, () => join(record)));
      answer = answers.find((a) => a.status === 200) ?? answers[0];
    }
    const ticket = String(answer.body!.ticket);
    record.ticket = ticketNumber(ticket);
    let polls = 0;
    for (;;) {
      const state = answer.status === 200 ? String(answer.body?.state) : 'unknown';
      if (state === 'sold_out') {
        soldOutSeen();
        record.toldSoldOutWaiting = true;
        return 'sold_out';
      }
      if (state === 'expired') return 'expired';
      if (state === 'admitted') return buyWithPass(record, answer.body!);
      if (performance.now() > deadline) return 'gave_up';
      const wait = Number(answer.body?.estimatedWaitMs);
      const far = record.kind === 'patient' && wait > BEHAVIOUR.farWaitMs;
      await sleep(far ? BEHAVIOUR.farPollMs : BEHAVIOUR.pollMs[record.kind]);
      polls++;
      answer =
        record.kind === 'impatient' && polls % BEHAVIOUR.impatientRejoinEvery === 0
          ? await join(record)
          : await status(record, ticket);
    }
  }

  async function buyWithPass(record: VisitorRecord, admitted: Record<string, unknown>): Promise<string> {
    record.admittedAtMs = elapsed();
    record.admissionAt = Date.parse(String(admitted.passExpiresAt)) - plan.passTtlMs;
    const pass = String(admitted.pass);
    for (let busy = 0; ; busy++) {
      const outcome = await purchase(record, pass);
      if (outcome !== 'busy' || busy >= BEHAVIOUR.busyRetries) return outcome;
      await sleep(BEHAVIOUR.busyRetryMs);
    }
  }

  async function visit(visitor: PlannedVisitor): Promise<VisitorRecord> {
    await sleep(Math.max(0, visitor.arriveAtMs - elapsed()));
    const record: VisitorRecord = {
      userId: visitor.userId,
      owner: visitor.owner,
      kind: visitor.kind,
      arrivedAtMs: elapsed(),
      toldSoldOutWaiting: false,
      outcome: 'gave_up',
      requests: 0,
    };
    if (plan.mode === 'off') {
      const hammer = BEHAVIOUR.hammerRetries[visitor.kind];
      const loops = visitor.kind === 'bot' ? BEHAVIOUR.botConnections : 1;
      const outcomes = await Promise.all(Array.from({ length: loops }, () => buyStraight(record, hammer)));
      record.outcome = record.orderId !== undefined ? 'ordered' : outcomes[0];
    } else {
      record.outcome = await visitRoom(record);
    }
    return record;
  }

  const pendingStock: Promise<unknown>[] = [];
  const closeInterval = () => {
    const sorted = Float64Array.from(bucket.latencies).sort();
    const point: TimelinePoint = {
      tMs: Math.round(elapsed()),
      requests: bucket.requests,
      ordered: bucket.ordered,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      remainingStock: Number.NaN,
    };
    bucket = { requests: 0, ordered: 0, latencies: [] };
    timeline.push(point);
    if (plan.sampleRemainingStock)
      pendingStock.push(
        plan.sampleRemainingStock().then(
          (n) => (point.remainingStock = n),
          () => undefined,
        ),
      );
    plan.onSample?.(point.tMs);
  };
  const sampler = setInterval(closeInterval, plan.sampleEveryMs ?? 250);
  let records: VisitorRecord[];
  try {
    records = await Promise.all(plan.crowd.map(visit));
  } finally {
    clearInterval(sampler);
    agent.destroy();
  }
  if (bucket.requests > 0 || timeline.length === 0) closeInterval();
  await Promise.all(pendingStock);
  const durationMs = Math.round(elapsed());
  return {
    startedAt,
    durationMs,
    requests: latencies.length,
    requestsByRoute: byRoute,
    outcomes,
    purchaseLatencies,
    latencies,
    timeline,
    timeToSellOutMs: firstSoldOut === null ? null : Math.round(firstSoldOut),
    records,
  };
}

/**
 * Connections to the service, all opened before the crowd starts: a connection opened during the crowd waits for
 * the server's accept (and, with its backlog full, for a SYN retransmitted 1 s later), which would send a visitor's
 * first request after later visitors' and put a reordering of the load generator's own into the arrival order.
 */
const SOCKETS = 256;

export async function openVisitorAgent(url: string): Promise<http.Agent> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
  const base = new URL(url);
  await Promise.all(
    Array.from(
      { length: SOCKETS },
      () =>
        new Promise<void>((resolve) => {
          const req = http.get({ host: base.hostname, port: base.port, path: '/healthz', agent }, (res) => {
            res.resume();
            res.on('end', resolve);
            res.on('error', () => resolve());
          });
          req.on('error', () => resolve());
        }),
    ),
  );
  return agent;
}

/**
 * Has the api process read the sale before the crowd comes, as the sale's page would have: otherwise the first
 * visitors' requests all wait for the process's first database read of the sale while later ones, arriving once it
 * is cached, go ahead of them. A request that reads the sale and changes nothing: a purchase without a pass (403) in
 * a room, a join (404, no room) without one.
 */
function loadSale(agent: http.Agent, base: URL, plan: VisitorRunPlan): Promise<void> {
  const room = plan.mode !== 'off';
  const path = room ? '/seckill' : `/sales/${encodeURIComponent(plan.itemId)}/waiting-room`;
  const body = JSON.stringify(room ? { userId: 'sim-probe', itemId: plan.itemId } : { userId: 'sim-probe' });
  return new Promise<void>((resolve) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
      },
    );
    req.on('error', () => resolve());
    req.end(body);
  });
}

/** The ticket number a ticket carries (its `tkt` claim); read without the key, for the report only. */
export function ticketNumber(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      tkt?: unknown;
    };
    return typeof payload.tkt === 'number' ? payload.tkt : undefined;
  } catch {
    return undefined;
  }
}

export function summarizeLatency(latencies: number[]): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : 0,
  };
}

/** Nearest-rank percentile of an ascending array; 0 when empty. */
export function percentile(sortedAscending: ArrayLike<number>, p: number): number {
  const n = sortedAscending.length;
  if (n === 0) return 0;
  return sortedAscending[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
}
