// The simulator's load generator: sends a planned crowd of buyers at `POST /seckill` through autocannon and
// measures what each of them was answered.
//
// How the crowd is mapped onto autocannon (verified in autocannon 9.0.0's lib/httpClient.js, requestIterator.js
// and run.js, and asserted by test/sim/load-driver.test.ts):
// - With a one-element `requests` array whose `setupRequest` is a function, autocannon calls setupRequest exactly
//   once per request it writes: once per connection when the client is constructed (that request is sent on
//   connect) and once before every later write. A connection stops before building another request once it has
//   written its share of `amount` (the shares sum to `amount`). So a shared cursor in setupRequest hands out the
//   crowd in order and `amount = crowd.length` sends every planned userId exactly once.
// - The per-connection `context` is reset on every request (the one-element array "loops" each time), and with
//   pipelining 1 a connection has exactly one request in flight, so setupRequest can leave the crowd index and
//   send time in the context and onResponse finds them there. Pipelining > 1 would break this pairing, so it
//   is fixed at 1: `connections` is then exactly the number of buyers waiting at once (closed model).
// - `amount` makes autocannon ignore `duration`, so the hard time cap is our own timer calling `stop()`.
// - A request that never gets an answer (timeout, dropped connection) gets no onResponse; it is counted as an
//   error at the end, so outcomes always add up to the requests sent.
import autocannon from 'autocannon';
import { performance } from 'node:perf_hooks';

import { mulberry32, randomBelow } from './random';
import type { LatencySummary, OutcomeCounts, TimelinePoint } from './report-types';

export interface CrowdProgress {
  sent: number;
  done: number;
  elapsedMs: number;
  outcomes: OutcomeCounts;
  total?: number; // requests planned; driveCrowd always fills it
}

export interface CrowdPlan {
  url: string; // base URL, e.g. http://127.0.0.1:3000
  itemId: string;
  users: number; // distinct user ids: `${userPrefix}${n}` for n in [0, users)
  requests: number; // total requests to send
  userPrefix?: string; // default 'u'
  duplicateRatio: number; // 0..1: share of requests that repeat a user already used (a retrying/hammering buyer)
  connections: number; // concurrency (closed model) — autocannon connections
  // If set: open-model arrival rate (autocannon overallRate), like k6 constant-arrival-rate, with two autocannon
  // caveats: the rate is a per-second quota per connection, so arrivals come in a burst at the start of each
  // second rather than evenly spaced; and at most `connections` requests are in flight, so a slow service lowers
  // the arrival rate (size `connections` above rate × expected latency).
  ratePerSec?: number;
  seed?: number; // deterministic crowd: the same seed gives the same sequence of userIds; default 1
  sampleEveryMs?: number; // timeline interval, default 250
  onProgress?: (p: CrowdProgress) => void; // called every sampleEveryMs
  sampleRemainingStock?: () => Promise<number>; // called each interval to put remaining stock on the timeline
  maxDurationMs?: number; // hard safety cap on the whole run, default 10 minutes
  requestTimeoutSec?: number; // a request unanswered this long counts as an error, default 10 (autocannon's)
  // BUYER_AUTH=token: the Authorization header value for a user (e.g. `Bearer <jwt>`); called once per user.
  authorize?: (userId: string) => string;
}

export interface CrowdResult {
  requests: number; // requests sent: the plan's, unless the time cap cut the run short
  durationMs: number; // start until the last answer (or until the run was given up on)
  ratePerSec: number;
  latencyMs: LatencySummary;
  outcomes: OutcomeCounts;
  // Time from the start to the first `sold_out` answer. Simplest honest definition: it is when a buyer was first
  // told "nothing left"; it does not wait for stock to be confirmed 0 (a strategy that wrongly answers sold_out
  // early will show an early sell-out here, and the reconciliation shows the undersell).
  timeToSellOutMs: number | null;
  timeline: TimelinePoint[];
  orders: { orderId: string; userId: string }[]; // every ordered answer, in the order they came (the simulator pays some of them)
  arrivals: string[]; // distinct users in the order their first request was sent (the edge)
  truncated?: boolean; // true when maxDurationMs stopped the run before every planned request was sent
}

type CrowdShape = Pick<CrowdPlan, 'users' | 'requests' | 'duplicateRatio' | 'seed' | 'userPrefix'>;
type Outcome = keyof OutcomeCounts;

const DEFAULT_USER_PREFIX = 'u';
const DEFAULT_SEED = 1;
const DEFAULT_SAMPLE_EVERY_MS = 250;
const DEFAULT_MAX_DURATION_MS = 10 * 60_000;
const SECKILL_PATH = 'seckill';

// ---------------------------------------------------------------------------------------------------------------
// The crowd

function assertCrowdShape({ users, requests, duplicateRatio }: CrowdShape): void {
  if (!Number.isInteger(requests) || requests < 0) throw new RangeError(`requests must be an integer >= 0`);
  if (!Number.isInteger(users) || users < 0) throw new RangeError(`users must be an integer >= 0`);
  if (requests > 0 && users === 0) throw new RangeError(`requests need at least one user`);
  if (!(duplicateRatio >= 0 && duplicateRatio <= 1)) throw new RangeError(`duplicateRatio must be in [0, 1]`);
}

// How many requests repeat an earlier user: duplicateRatio of them, except that the very first request cannot
// repeat anyone and requests beyond the number of users can only be repeats.
function plannedRepeats({ users, requests, duplicateRatio }: CrowdShape): number {
  if (requests === 0) return 0;
  const wanted = Math.round(requests * duplicateRatio);
  return Math.min(requests - 1, Math.max(requests - users, wanted));
}

// A random `count` of the user numbers [0, users), in random order (a partial Fisher–Yates shuffle).
function pickFirstTimers(users: number, count: number, random: () => number): number[] {
  const numbers = Array.from({ length: users }, (_, n) => n);
  for (let i = 0; i < count; i++) {
    const j = i + randomBelow(random, users - i);
    [numbers[i], numbers[j]] = [numbers[j], numbers[i]];
  }
  return numbers.slice(0, count);
}

// Spreads the repeats uniformly among the first-time requests; a repeat names a buyer who already appeared.
function interleaveRepeats(firstTimers: number[], repeats: number, random: () => number): number[] {
  const sequence: number[] = [];
  let firstTimersUsed = 0;
  let repeatsLeft = repeats;
  while (firstTimersUsed < firstTimers.length || repeatsLeft > 0) {
    const left = firstTimers.length - firstTimersUsed + repeatsLeft;
    const repeatNow = firstTimersUsed > 0 && random() * left < repeatsLeft;
    if (repeatNow) {
      sequence.push(firstTimers[randomBelow(random, firstTimersUsed)]);
      repeatsLeft--;
    } else {
      sequence.push(firstTimers[firstTimersUsed++]);
    }
  }
  return sequence;
}

/**
 * The userId of every request, in sending order. Pure: the same plan (and seed) gives the same crowd.
 * round(requests × duplicateRatio) requests repeat a user who came earlier; the others are first-timers, each a
 * different user drawn from [0, users). When requests × (1 − duplicateRatio) exceeds `users`, every user comes
 * and the surplus are repeats too (the ratio is then higher than asked); the first request is always a first-timer.
 */
export function buildCrowd(plan: CrowdShape): string[] {
  assertCrowdShape(plan);
  const random = mulberry32(plan.seed ?? DEFAULT_SEED);
  const repeats = plannedRepeats(plan);
  const firstTimers = pickFirstTimers(plan.users, plan.requests - repeats, random);
  const prefix = plan.userPrefix ?? DEFAULT_USER_PREFIX;
  return interleaveRepeats(firstTimers, repeats, random).map((n) => `${prefix}${n}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Answers

// Which `status` values each HTTP status code may carry; anything else (other codes, unparsable bodies, a status
// under the wrong code) is an error, so a misbehaving service cannot pass as a normal outcome.
const STATUSES_BY_CODE: Readonly<Record<number, readonly Outcome[]>> = {
  201: ['ordered'],
  409: ['duplicate', 'not_started', 'ended'],
  410: ['sold_out'],
  429: ['rate_limited'],
  503: ['busy'],
};

export interface ClassifiedAnswer {
  outcome: Outcome;
  orderId?: string;
}

function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The contract's other 503: `{error: {code: 'unavailable'}}` (a store unreachable just now): "not now", as busy. */
function isUnavailable(statusCode: number, answer: Record<string, unknown> | undefined): boolean {
  return statusCode === 503 && (answer?.error as { code?: unknown } | undefined)?.code === 'unavailable';
}

export function classifyAnswer(statusCode: number, body: string): ClassifiedAnswer {
  const answer = parseJsonObject(body);
  if (isUnavailable(statusCode, answer)) return { outcome: 'busy' };
  const status = answer?.status;
  const allowed = STATUSES_BY_CODE[statusCode] ?? [];
  const outcome = allowed.find((s) => s === status);
  if (!outcome) return { outcome: 'errors' };
  if (outcome !== 'ordered') return { outcome };
  const orderId = answer?.orderId;
  // An order without an id cannot be paid or reconciled, so it is not a usable "ordered".
  if (typeof orderId !== 'string' && typeof orderId !== 'number') return { outcome: 'errors' };
  return { outcome, orderId: String(orderId) };
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring

export function emptyOutcomes(): OutcomeCounts {
  return {
    ordered: 0,
    sold_out: 0,
    duplicate: 0,
    busy: 0,
    rate_limited: 0,
    not_started: 0,
    ended: 0,
    errors: 0,
  };
}

// Nearest-rank percentile of an ascending array; 0 when there is nothing to rank.
function percentile(sortedAscending: ArrayLike<number>, p: number): number {
  const n = sortedAscending.length;
  if (n === 0) return 0;
  return sortedAscending[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
}

function sortedCopy(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

function summarizeLatency(latencies: number[]): LatencySummary {
  const sorted = sortedCopy(latencies);
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : 0,
  };
}

interface IntervalBucket {
  requests: number;
  ordered: number;
  latencies: number[];
}

function emptyBucket(): IntervalBucket {
  return { requests: 0, ordered: 0, latencies: [] };
}

// What setupRequest leaves in autocannon's per-connection context for the matching onResponse.
interface InFlightRequest {
  crowdIndex: number;
  sentAtMs: number;
}
interface RequestContext {
  inFlight?: InFlightRequest;
}

// Everything measured during one run. Timeline buckets count answers by the interval they arrived in.
class CrowdRecorder {
  sent = 0;
  answered = 0;
  lastAnswerAtMs: number;
  readonly outcomes = emptyOutcomes();
  readonly orders: { orderId: string; userId: string }[] = [];
  /** Distinct users by their first request's send (a Set keeps insertion order). */
  readonly arrivals = new Set<string>();
  readonly latencies: number[] = [];
  readonly timeline: TimelinePoint[] = [];
  firstSoldOutAtMs: number | null = null;
  private bucket = emptyBucket();

  constructor(
    private readonly crowd: string[],
    readonly startedAtMs: number,
  ) {
    this.lastAnswerAtMs = startedAtMs;
  }

  takeNext(): InFlightRequest & { userId: string } {
    // Cannot happen while amount === crowd.length (see the header); if autocannon ever changes, fail loudly
    // rather than quietly send a user the plan did not contain.
    if (this.sent >= this.crowd.length)
      throw new Error('load-driver: autocannon asked for more requests than planned');
    const crowdIndex = this.sent++;
    const userId = this.crowd[crowdIndex];
    this.arrivals.add(userId);
    return { crowdIndex, sentAtMs: performance.now(), userId };
  }

  recordAnswer(request: InFlightRequest, statusCode: number, body: string): void {
    const now = performance.now();
    const latency = now - request.sentAtMs;
    const { outcome, orderId } = classifyAnswer(statusCode, body);
    this.answered++;
    this.lastAnswerAtMs = now;
    this.outcomes[outcome]++;
    this.latencies.push(latency);
    this.bucket.requests++;
    this.bucket.latencies.push(latency);
    if (orderId !== undefined) {
      this.orders.push({ orderId, userId: this.crowd[request.crowdIndex] });
      this.bucket.ordered++;
    }
    if (outcome === 'sold_out' && this.firstSoldOutAtMs === null) this.firstSoldOutAtMs = now;
  }

  // Requests that were written but never answered are errors; they land in the interval still open.
  countUnansweredAsErrors(): void {
    const unanswered = this.sent - this.answered;
    this.outcomes.errors += unanswered;
    this.bucket.requests += unanswered;
  }

  closeInterval(atMs: number): TimelinePoint {
    const sorted = sortedCopy(this.bucket.latencies);
    const point: TimelinePoint = {
      tMs: Math.round(atMs - this.startedAtMs),
      requests: this.bucket.requests,
      ordered: this.bucket.ordered,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      remainingStock: Number.NaN, // unknown until sampled (serialises as null: a gap in the chart)
    };
    this.bucket = emptyBucket();
    this.timeline.push(point);
    return point;
  }

  // autocannon can take up to a second after the last answer to wind down (a rate-limited connection only stops
  // at its next per-second tick); the empty points from that wait are not part of the sale.
  dropSilentTail(): void {
    while (this.timeline.length > 1 && this.timeline[this.timeline.length - 1].requests === 0)
      this.timeline.pop();
  }

  hasOpenAnswers(): boolean {
    return this.bucket.requests > 0;
  }

  progress(nowMs: number): CrowdProgress {
    return {
      sent: this.sent,
      done: this.answered,
      elapsedMs: Math.round(nowMs - this.startedAtMs),
      outcomes: { ...this.outcomes },
      total: this.crowd.length,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Driving

function seckillUrl(baseUrl: string): string {
  const url = new URL(baseUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${SECKILL_PATH}`;
  return url.toString();
}

function assertDrivePlan(plan: CrowdPlan): void {
  if (!Number.isInteger(plan.connections) || plan.connections < 1)
    throw new RangeError('connections must be an integer >= 1');
  if (plan.ratePerSec !== undefined && !(plan.ratePerSec >= 1))
    throw new RangeError('ratePerSec must be >= 1');
}

function autocannonOptions(plan: CrowdPlan, recorder: CrowdRecorder, requests: number): autocannon.Options {
  const authorizations = new Map<string, string>();
  const authorization = (userId: string) => {
    let value = authorizations.get(userId);
    if (value === undefined) authorizations.set(userId, (value = plan.authorize!(userId)));
    return value;
  };
  return {
    url: seckillUrl(plan.url),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // autocannon throws when a connection would get no request at all.
    connections: Math.min(plan.connections, requests),
    pipelining: 1, // one request in flight per connection: the context pairing above relies on it
    amount: requests,
    overallRate: plan.ratePerSec,
    timeout: plan.requestTimeoutSec,
    // autocannon only notices the end at its next sample tick; a short tick keeps that wait small.
    sampleInt: 50,
    requests: [
      {
        setupRequest: (request, context) => {
          const { userId, ...inFlight } = recorder.takeNext();
          (context as RequestContext).inFlight = inFlight;
          const body = JSON.stringify({ userId, itemId: plan.itemId });
          if (!plan.authorize) return { ...request, body };
          return { ...request, body, headers: { ...request.headers, authorization: authorization(userId) } };
        },
        onResponse: (statusCode, body, context) => {
          const inFlight = (context as RequestContext).inFlight;
          if (inFlight) recorder.recordAnswer(inFlight, statusCode, body);
        },
      },
    ],
  };
}

function runAutocannon(options: autocannon.Options, onStarted: (instance: autocannon.Instance) => void) {
  return new Promise<void>((resolve, reject) => {
    const instance = autocannon(options, (err: unknown) => (err ? reject(err) : resolve()));
    onStarted(instance);
  });
}

// Puts the sampled stock on the point when it arrives; a failed sample leaves it unknown rather than failing the run.
function sampleStockInto(point: TimelinePoint, plan: CrowdPlan, pending: Promise<unknown>[]): void {
  if (!plan.sampleRemainingStock) return;
  pending.push(
    plan.sampleRemainingStock().then(
      (stock) => (point.remainingStock = stock),
      () => undefined,
    ),
  );
}

function emptyResult(): CrowdResult {
  return {
    requests: 0,
    durationMs: 0,
    ratePerSec: 0,
    latencyMs: { p50: 0, p95: 0, p99: 0, max: 0 },
    outcomes: emptyOutcomes(),
    timeToSellOutMs: null,
    timeline: [],
    orders: [],
    arrivals: [],
  };
}

function buildResult(recorder: CrowdRecorder, endedAtMs: number, truncated: boolean): CrowdResult {
  const durationMs = endedAtMs - recorder.startedAtMs;
  const result: CrowdResult = {
    requests: recorder.sent,
    durationMs: Math.round(durationMs),
    ratePerSec: durationMs > 0 ? (recorder.sent * 1000) / durationMs : 0,
    latencyMs: summarizeLatency(recorder.latencies),
    outcomes: recorder.outcomes,
    timeToSellOutMs:
      recorder.firstSoldOutAtMs === null
        ? null
        : Math.round(recorder.firstSoldOutAtMs - recorder.startedAtMs),
    timeline: recorder.timeline,
    orders: recorder.orders,
    arrivals: [...recorder.arrivals],
  };
  if (truncated) result.truncated = true;
  return result;
}

/** Sends the planned crowd and reports what it was answered. Resolves once every request is answered or lost. */
export async function driveCrowd(plan: CrowdPlan): Promise<CrowdResult> {
  assertDrivePlan(plan);
  const crowd = buildCrowd(plan);
  // amount 0 would make autocannon fall back to a timed run, so an empty crowd never reaches it.
  if (crowd.length === 0) return emptyResult();

  const sampleEveryMs = plan.sampleEveryMs ?? DEFAULT_SAMPLE_EVERY_MS;
  const pendingStock: Promise<unknown>[] = [];
  const recorder = new CrowdRecorder(crowd, performance.now());
  let capped = false;
  let sampler: NodeJS.Timeout | undefined;
  let cap: NodeJS.Timeout | undefined;

  try {
    await runAutocannon(autocannonOptions(plan, recorder, crowd.length), (instance) => {
      sampler = setInterval(() => {
        const now = performance.now();
        sampleStockInto(recorder.closeInterval(now), plan, pendingStock);
        plan.onProgress?.(recorder.progress(now));
      }, sampleEveryMs);
      cap = setTimeout(() => {
        capped = true;
        instance.stop();
      }, plan.maxDurationMs ?? DEFAULT_MAX_DURATION_MS);
    });
  } finally {
    clearInterval(sampler);
    clearTimeout(cap);
  }

  const allAnswered = recorder.answered === recorder.sent;
  const endedAtMs = allAnswered ? recorder.lastAnswerAtMs : performance.now();
  if (allAnswered) recorder.dropSilentTail();
  recorder.countUnansweredAsErrors();
  // The last partial interval (and the final stock) is only worth a point if something happened in it.
  if (recorder.hasOpenAnswers() || recorder.timeline.length === 0) {
    sampleStockInto(recorder.closeInterval(endedAtMs), plan, pendingStock);
  }
  await Promise.all(pendingStock);
  plan.onProgress?.(recorder.progress(endedAtMs));
  return buildResult(recorder, endedAtMs, capped && recorder.sent < crowd.length);
}

// ---------------------------------------------------------------------------------------------------------------
// Progress text

/** One line, e.g. "sent 1200/20000 · 3050 req/s · ordered 800 · sold_out 400 · busy 0 · errors 0". */
export function formatProgress(p: CrowdProgress): string {
  const seconds = p.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(p.done / seconds) : 0;
  const o = p.outcomes;
  const parts = [
    `sent ${p.sent}${p.total === undefined ? '' : `/${p.total}`}`,
    `${rate} req/s`,
    `ordered ${o.ordered}`,
    `sold_out ${o.sold_out}`,
  ];
  // Outcomes that only some scenarios produce are shown once they occur, to keep the line short.
  if (o.duplicate) parts.push(`duplicate ${o.duplicate}`);
  if (o.rate_limited) parts.push(`rate_limited ${o.rate_limited}`);
  if (o.not_started) parts.push(`not_started ${o.not_started}`);
  if (o.ended) parts.push(`ended ${o.ended}`);
  parts.push(`busy ${o.busy}`, `errors ${o.errors}`);
  return parts.join(' · ');
}
