/**
 * What a waiting crowd costs: status polls of a sale's waiting room (GET /sales/:itemId/waiting-room, the ticket in
 * `Waiting-Room-Ticket`) against a bare express endpoint reading the same request, in the same run, and against the
 * floor under any Node answer: node:http alone answering a fixed JSON of a status answer's size.
 *   npm run bench:room                                  (tsx bench/room-status.ts)
 *   BENCH_ROOM_PROF=<dir> npm run bench:room            also a CPU profile of the api process, summarised
 *   sizes: BENCH_ROOM_VISITORS (20000), BENCH_ROUNDS (3), BENCH_DURATION_S (5), BENCH_WARMUP_S (2),
 *          BENCH_CONNECTIONS (64), BENCH_HOLD_S (20), BENCH_HOLD_CONNECTIONS (256), BENCH_POLL_INTERVAL_MS (1000;
 *          a comma list holds the crowd once per interval),
 *          BENCH_JOIN_CONNECTIONS (32), BENCH_TIME_LIMIT_S (900), BENCH_ROOM_API_WORKERS (unset: one api process;
 *          n: `serve --workers n`, n api processes sharing the port, each with its own copy of the room)
 *
 * Everything runs privately on 127.0.0.1: a redis-server, a PostgreSQL, the service as real child processes (broker,
 * one api process with the worker role, relay, consumer), and a child of its own holding the bare express app and
 * the bare node:http server (one driven at a time, so the child's CPU is that one's); the load generator runs in
 * this process. The sale's room admits one visitor in the whole run (fifo, 0.001/s, at most one unfinished
 * admission, a pass that outlives the run), so every other visitor stays waiting.
 *
 * 1. BENCH_ROOM_VISITORS distinct visitors join (POST /sales/:itemId/waiting-room); their tickets are kept.
 * 2. Saturation, BENCH_ROUNDS rounds alternating the three targets (order rotated each round): BENCH_CONNECTIONS
 *    autocannon connections, pipelining 1, each request a different visitor's ticket, BENCH_WARMUP_S discarded then
 *    BENCH_DURATION_S measured. Figures: answers/s, p99, and the CPU per answer of the process answering (the api's
 *    process tree, or the child's) from /proc; ratios against express (and node:http) of the same round, then the
 *    median.
 * 3. The crowd held: every visitor polls once per BENCH_POLL_INTERVAL_MS (20,000 polls/s by default) for
 *    BENCH_HOLD_S, on BENCH_HOLD_CONNECTIONS keep-alive connections, open model: poll i is due at start + i/rate
 *    whatever happened before it, and its latency counts from when it was due (a server that falls behind shows it
 *    in the latency and in the backlog, rather than slowing the crowd down). The same crowd at the bare express app
 *    and at bare node:http after it. Figures: polls/s answered, the cores the answering process kept busy, CPU per
 *    poll, p50/p99, the backlog left, and whether the crowd was held: every poll due answered with a 200 (at most
 *    0.1 % left as backlog) and each answer before that visitor's next poll was due.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type autocannon from 'autocannon';
import { applyMigrations } from '../src/infra/migrations';
import { startRedisServer } from '../src/sim/lock-servers';
import { startPrivatePostgres } from '../src/sim/private-postgres';
import { startServiceProcesses } from '../src/sim/service-processes';
import {
  loadAverage,
  machineLine,
  machineReport,
  MS_PER_TICK,
  printProfiles,
  procTable,
  processTree,
  PROFILE_START_SIGNAL,
  runBenchFile,
  serviceEnv,
  writeReport,
} from './cpu-sampling';
import {
  type Cleanup,
  createSale,
  positiveInt,
  postJson,
  rotated,
  runAutocannon,
  startExpressChild,
  statusCounts,
  stopChild,
  withCleanup,
} from './service-client';

const EXPRESS_FLAG = '--bench-room-express-child';
/** The goal of issue 18: status answers at ≥ 0.9× bare express. */
const GOAL_VS_EXPRESS = 0.9;

function positiveInts(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  return raw.split(',').map((part) => {
    const value = Number(part.trim());
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${name} must list integers >= 1, got "${raw}"`);
    return value;
  });
}

const settings = {
  visitors: positiveInt('BENCH_ROOM_VISITORS', 20_000),
  rounds: positiveInt('BENCH_ROUNDS', 3),
  durationSec: positiveInt('BENCH_DURATION_S', 5),
  warmupSec: positiveInt('BENCH_WARMUP_S', 2),
  connections: positiveInt('BENCH_CONNECTIONS', 64),
  holdSec: positiveInt('BENCH_HOLD_S', 20),
  holdConnections: positiveInt('BENCH_HOLD_CONNECTIONS', 256),
  /** A comma list: the crowd is held once per interval (e.g. 1000,4000: once a second, then once every 4 s). */
  pollIntervalsMs: positiveInts('BENCH_POLL_INTERVAL_MS', [1000]),
  joinConnections: positiveInt('BENCH_JOIN_CONNECTIONS', 32),
  apiWorkers: process.env.BENCH_ROOM_API_WORKERS ? positiveInt('BENCH_ROOM_API_WORKERS', 1) : undefined,
  timeLimitSec: positiveInt('BENCH_TIME_LIMIT_S', 900),
  profileDir: process.env.BENCH_ROOM_PROF ? path.resolve(process.env.BENCH_ROOM_PROF) : undefined,
};

// ---------------------------------------------------------------------------------------------------------------
// The processes

interface Stack {
  apiUrl: string;
  expressUrl: string;
  /** The floor: node:http alone answering a fixed status-sized JSON (in the express child, driven on its own). */
  nodeUrl: string;
  adminToken: string;
  /** The process trees measured: the api process (api+worker roles), the express child, redis-server. */
  pids: () => { api: number[]; express: number[]; redis: number[] };
  /** Every service child (to start their profilers). */
  servicePids: number[];
}

async function startStack(cleanup: Cleanup): Promise<Stack> {
  const adminToken = randomBytes(24).toString('base64url');
  const express = await startExpressChild(__filename, EXPRESS_FLAG);
  cleanup.add('express child', () => stopChild(express.child));
  const redis = await startRedisServer();
  cleanup.add('redis-server', () => redis.stop());
  const postgres = await startPrivatePostgres();
  cleanup.add('PostgreSQL', () => postgres.stop());
  const databaseUrl = `${postgres.url}/seckill`;
  await applyMigrations(databaseUrl);
  const brokerDataDir = mkdtempSync(path.join(os.tmpdir(), 'seckill-bench-room-kafka-'));
  cleanup.add('broker data', () => rmSync(brokerDataDir, { recursive: true, force: true }));
  if (settings.profileDir) mkdirSync(settings.profileDir, { recursive: true });
  const service = await startServiceProcesses({
    env: serviceEnv({ databaseUrl, redisUrl: redis.address, adminToken }, settings.profileDir),
    brokerDataDir,
    entry: settings.profileDir ? __filename : undefined,
    serveArgs: settings.apiWorkers ? ['--workers', String(settings.apiWorkers)] : undefined,
  });
  cleanup.add('service processes', () => service.stop()); // SIGTERM: profiles are written at exit
  const roots = { api: service.apis[0].pid!, express: express.child.pid!, redis: redis.pid()! };
  return {
    apiUrl: service.urls[0],
    expressUrl: express.url,
    nodeUrl: express.nodeUrl,
    adminToken,
    pids: () => {
      const table = procTable();
      return {
        api: processTree(table, roots.api),
        express: processTree(table, roots.express),
        redis: processTree(table, roots.redis),
      };
    },
    servicePids: service.all().map((child) => child.pid!),
  };
}

type Measured = 'api' | 'express' | 'redis';

function cpuTicks(stack: Stack): Record<Measured, number> {
  const table = procTable();
  const pids = stack.pids();
  const sum = (list: number[]) => list.reduce((total, pid) => total + (table.get(pid)?.ticks ?? 0), 0);
  return { api: sum(pids.api), express: sum(pids.express), redis: sum(pids.redis) };
}

/** CPU ms of each measured process tree, and of this process (the load generator), while `work` runs. */
async function withCpu<T>(
  stack: Stack,
  work: () => Promise<T>,
): Promise<{ result: T; cpuMs: Record<Measured | 'loadGenerator', number>; wallMs: number }> {
  const before = cpuTicks(stack);
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  const result = await work();
  const wallMs = performance.now() - started;
  const own = process.cpuUsage(ownBefore);
  const after = cpuTicks(stack);
  return {
    result,
    wallMs,
    cpuMs: {
      api: (after.api - before.api) * MS_PER_TICK,
      express: (after.express - before.express) * MS_PER_TICK,
      redis: (after.redis - before.redis) * MS_PER_TICK,
      loadGenerator: (own.user + own.system) / 1000,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The room and its visitors

async function createRoomSale(stack: Stack): Promise<string> {
  return createSale(
    { serviceUrl: stack.apiUrl, adminToken: stack.adminToken },
    {
      name: 'bench-room',
      stock: 1000,
      segments: 8,
      strategy: 'segmented-lock',
      paymentTimeoutMs: 3_600_000,
      // One admission in the whole run: everyone else waits.
      admission: { mode: 'fifo', ratePerSec: 0.001, maxUnfinished: 1, passTtlMs: 3_600_000 },
    },
  );
}

/** Every visitor joins once, `settings.joinConnections` at a time; their tickets, in joining order. */
async function joinVisitors(
  apiUrl: string,
  itemId: string,
  run: string,
): Promise<{ tickets: string[]; states: Record<string, number>; ms: number }> {
  const tickets: string[] = new Array(settings.visitors);
  const states: Record<string, number> = {};
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < settings.visitors) {
      const i = next++;
      const joined = await postJson(`${apiUrl}/sales/${itemId}/waiting-room`, { userId: `room-${run}-${i}` });
      if (joined.status !== 200)
        throw new Error(`join ${i}: ${joined.status} ${JSON.stringify(joined.body)}`);
      tickets[i] = String(joined.body.ticket);
      const state = String(joined.body.state);
      states[state] = (states[state] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: settings.joinConnections }, worker));
  return { tickets, states, ms: performance.now() - started };
}

/** One poll per request, each with the next visitor's ticket (round the crowd, from `offset`). */
function ticketRequests(tickets: string[], offset: number): autocannon.Request[] {
  let next = offset;
  return [
    {
      setupRequest: (request) => ({
        ...request,
        headers: { ...request.headers, 'waiting-room-ticket': tickets[next++ % tickets.length] },
      }),
    },
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Saturation: alternated rounds

type TargetName = 'room status' | 'bare express' | 'bare node:http';

interface Target {
  name: TargetName;
  url: string;
  /** The process tree whose CPU is the target's. */
  own: Measured;
}

interface Window {
  target: TargetName;
  round: number;
  answers: number;
  statusCounts: Record<string, number>;
  errors: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU ms per answer of the target's process tree, of redis-server and of the load generator. */
  cpuMsPerAnswer: number;
  redisMsPerAnswer: number;
  loadGeneratorMsPerAnswer: number;
  /** Cores the target's process tree kept busy. */
  cores: number;
}

function crowd(target: Target, itemId: string, tickets: string[], durationSec: number, offset: number) {
  return runAutocannon({
    url: `${target.url}/sales/${itemId}/waiting-room`,
    method: 'GET',
    connections: settings.connections,
    pipelining: 1,
    duration: durationSec,
    requests: ticketRequests(tickets, offset),
  });
}

async function measureWindow(
  stack: Stack,
  target: Target,
  itemId: string,
  tickets: string[],
  round: number,
): Promise<Window> {
  // Different visitors in every window: a fresh stretch of the crowd.
  const offset = Math.floor(Math.random() * tickets.length);
  await crowd(target, itemId, tickets, settings.warmupSec, offset);
  const { result, cpuMs, wallMs } = await withCpu(stack, () =>
    crowd(target, itemId, tickets, settings.durationSec, offset),
  );
  const counts = statusCounts(result);
  const answers = Object.values(counts).reduce((sum, n) => sum + n, 0);
  return {
    target: target.name,
    round,
    answers,
    statusCounts: counts,
    errors: result.errors + result.timeouts,
    reqPerSec: (answers / wallMs) * 1000,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    cpuMsPerAnswer: cpuMs[target.own] / answers,
    redisMsPerAnswer: cpuMs.redis / answers,
    loadGeneratorMsPerAnswer: cpuMs.loadGenerator / answers,
    cores: cpuMs[target.own] / wallMs,
  };
}

interface RoundRatios {
  round: number;
  /** room status answers/s ÷ bare express answers/s (goal ≥ 0.9). */
  reqPerSec: number;
  /** room status CPU per answer ÷ bare express CPU per answer. */
  cpuPerAnswer: number;
  p99: number;
  /** room status CPU per answer ÷ the bare node:http floor's. */
  cpuVsFloor: number;
}

async function saturation(stack: Stack, targets: Target[], itemId: string, tickets: string[]) {
  const windows: Window[] = [];
  const ratios: RoundRatios[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const order = rotated(targets, round - 1);
    progress(`round ${round} of ${settings.rounds}: ${order.map((t) => t.name).join(', ')}`);
    const inRound: Window[] = [];
    for (const target of order) inRound.push(await measureWindow(stack, target, itemId, tickets, round));
    windows.push(...inRound);
    const room = inRound.find((w) => w.target === 'room status')!;
    const bare = inRound.find((w) => w.target === 'bare express')!;
    const floor = inRound.find((w) => w.target === 'bare node:http')!;
    ratios.push({
      round,
      reqPerSec: room.reqPerSec / bare.reqPerSec,
      cpuPerAnswer: room.cpuMsPerAnswer / bare.cpuMsPerAnswer,
      p99: room.p99Ms / bare.p99Ms,
      cpuVsFloor: room.cpuMsPerAnswer / floor.cpuMsPerAnswer,
    });
    for (const w of inRound) console.log(windowLine(w));
    console.log(`    ratio: ${ratioLine(ratios[ratios.length - 1])}`);
  }
  return { windows, ratios };
}

// ---------------------------------------------------------------------------------------------------------------
// The crowd held: an open-model poller on raw keep-alive sockets (cheap enough to send 20,000 polls/s from one core)

interface Held {
  target: TargetName;
  pollIntervalMs: number;
  ratePerSec: number;
  due: number;
  answered: number;
  /** Answered polls per second of the window. */
  answeredPerSec: number;
  statusCounts: Record<string, number>;
  errors: number;
  /** Polls due in the window and not answered (never sent, or not answered within 2 s after the window). */
  backlog: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Cores the target's process tree kept busy, its CPU ms per answered poll, and the load generator's cores. */
  cores: number;
  cpuMsPerPoll: number;
  redisCores: number;
  loadGeneratorCores: number;
  /** Undefined when held; otherwise why not (see `whyNotHeld`). */
  notHeld?: string;
}

/** At most this share of the polls due may go unanswered for the crowd to count as held. */
const HELD_MAX_BACKLOG = 0.001;

/**
 * A crowd is held when every visitor keeps hearing from the room at the pace it polls: (almost) every poll due is
 * answered, with a 200, and each answer arrives before that visitor's next poll is due. Undefined when held.
 */
function whyNotHeld(h: Omit<Held, 'notHeld'>): string | undefined {
  const reasons: string[] = [];
  if (h.backlog > h.due * HELD_MAX_BACKLOG)
    reasons.push(`backlog ${whole(h.backlog)} > ${HELD_MAX_BACKLOG * 100} % of the polls due`);
  const refused = h.answered - (h.statusCounts['200'] ?? 0);
  if (refused || h.errors) reasons.push(`${whole(refused)} non-200 answers, ${whole(h.errors)} errors`);
  if (!(h.maxMs < h.pollIntervalMs))
    reasons.push(
      `slowest answer ${fixed(h.maxMs, 0)} ms after its due time ≥ the ${h.pollIntervalMs} ms interval`,
    );
  return reasons.length ? reasons.join('; ') : undefined;
}

function quantile(sorted: Float64Array, q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Poll i is due at start + i × 1000 / rate and goes out on the first idle connection (one poll in flight per
 * connection); its latency runs from when it was due to its answer's last byte. Nothing is sent after the window
 * (`durationSec`): polls due and not sent by then are backlog, those in flight get up to 2 s more to answer.
 * Answered polls/s divide by the window, or by the time to the last answer when that is longer.
 */
function pacedPolls(options: {
  url: string;
  path: string;
  tickets: string[];
  ratePerSec: number;
  durationSec: number;
  connections: number;
}) {
  const { hostname, port } = new URL(options.url);
  const requests = options.tickets.map((ticket) =>
    Buffer.from(
      `GET ${options.path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nWaiting-Room-Ticket: ${ticket}\r\n\r\n`,
      'latin1',
    ),
  );
  const total = Math.floor(options.ratePerSec * options.durationSec);
  const intervalMs = 1000 / options.ratePerSec;
  const latencies = new Float64Array(total);
  const counts: Record<string, number> = {};
  let answered = 0;
  let sent = 0;
  let due = 0;
  let errors = 0;
  let start = 0;
  let lastAnswerAt = 0;
  const idle: Connection[] = [];

  class Connection {
    private readonly socket: net.Socket;
    private buffer: Buffer = Buffer.alloc(0);
    private dueAt = 0;
    ready: Promise<void>;

    constructor() {
      this.socket = net.connect(Number(port), hostname);
      this.socket.setNoDelay(true);
      this.ready = new Promise((resolve, reject) => {
        this.socket.once('connect', () => resolve());
        this.socket.once('error', reject);
      });
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
      this.socket.on('error', () => {
        errors++;
      });
    }

    send(i: number): void {
      this.dueAt = start + i * intervalMs;
      this.socket.write(requests[i % requests.length]);
    }

    close(): void {
      this.socket.destroy();
    }

    private onData(chunk: Buffer): void {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.toString('latin1', 0, end);
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const size = end + 4 + (length ? Number(length[1]) : 0);
      if (this.buffer.length < size) return;
      this.buffer = this.buffer.subarray(size);
      const status = head.slice(9, 12);
      counts[status] = (counts[status] ?? 0) + 1;
      lastAnswerAt = performance.now();
      latencies[answered++] = lastAnswerAt - this.dueAt;
      idle.push(this);
      dispatch();
    }
  }

  function dispatch(): void {
    while (sent < due && idle.length) idle.pop()!.send(sent++);
  }

  return (async () => {
    const connections = Array.from({ length: options.connections }, () => new Connection());
    await Promise.all(connections.map((c) => c.ready));
    idle.push(...connections);
    start = performance.now();
    const windowMs = options.durationSec * 1000;
    const ticker = setInterval(() => {
      due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      dispatch();
    }, 1);
    await new Promise((resolve) => setTimeout(resolve, windowMs));
    clearInterval(ticker);
    due = sent; // nothing more goes out: what was due and not sent is backlog
    // The answers in flight (or give up on them): at most 2 s.
    const graceEnd = performance.now() + 2000;
    while (answered < sent && performance.now() < graceEnd)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const elapsedMs = Math.max(windowMs, lastAnswerAt - start);
    for (const connection of connections) connection.close();
    const sorted = latencies.subarray(0, answered).sort();
    return {
      due: total,
      answered,
      elapsedMs,
      statusCounts: counts,
      errors,
      backlog: total - answered,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: answered ? sorted[answered - 1] : NaN,
    };
  })();
}

async function hold(
  stack: Stack,
  target: Target,
  itemId: string,
  tickets: string[],
  pollIntervalMs: number,
): Promise<Held> {
  const ratePerSec = (tickets.length * 1000) / pollIntervalMs;
  progress(
    `${target.name}: ${whole(tickets.length)} visitors polling every ${pollIntervalMs} ms ` +
      `(${whole(ratePerSec)} polls/s) for ${settings.holdSec} s on ${settings.holdConnections} connections`,
  );
  const { result, cpuMs, wallMs } = await withCpu(stack, () =>
    pacedPolls({
      url: target.url,
      path: `/sales/${itemId}/waiting-room`,
      tickets,
      ratePerSec,
      durationSec: settings.holdSec,
      connections: settings.holdConnections,
    }),
  );
  const figures = {
    target: target.name,
    pollIntervalMs,
    ratePerSec,
    due: result.due,
    answered: result.answered,
    answeredPerSec: (result.answered / result.elapsedMs) * 1000,
    statusCounts: result.statusCounts,
    errors: result.errors,
    backlog: result.backlog,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    maxMs: result.maxMs,
    cores: cpuMs[target.own] / wallMs,
    cpuMsPerPoll: cpuMs[target.own] / result.answered,
    redisCores: cpuMs.redis / wallMs,
    loadGeneratorCores: cpuMs.loadGenerator / wallMs,
  };
  return { ...figures, notHeld: whyNotHeld(figures) };
}

// ---------------------------------------------------------------------------------------------------------------
// Output

const whole = (value: number) => Math.round(value).toLocaleString('en');
const fixed = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

function progress(line: string): void {
  console.log(`  … ${line}`);
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function odd(counts: Record<string, number>, errors: number): string {
  const parts = Object.entries(counts)
    .filter(([status]) => status !== '200')
    .map(([status, n]) => `${whole(n)} × ${status}`);
  if (errors) parts.push(`${whole(errors)} errors/timeouts`);
  return parts.length ? parts.join(', ') : 'none';
}

function windowLine(w: Window): string {
  return (
    `    ${w.target.padEnd(14)} req/s ${whole(w.reqPerSec).padStart(7)}  p50 ${fixed(w.p50Ms, 1)} ms ` +
    `p99 ${fixed(w.p99Ms, 1)} ms  cpu ms/answer ${fixed(w.cpuMsPerAnswer, 4)} (${fixed(w.cores)} cores; ` +
    `redis ${fixed(w.redisMsPerAnswer, 4)}, load generator ${fixed(w.loadGeneratorMsPerAnswer, 4)})  ` +
    `non-200: ${odd(w.statusCounts, w.errors)}`
  );
}

function ratioLine(r: Omit<RoundRatios, 'round'>): string {
  return (
    `room status ${fixed(r.reqPerSec)}× bare express req/s (goal ≥ ${GOAL_VS_EXPRESS}×), ` +
    `${fixed(r.cpuPerAnswer)}× its CPU per answer, ${fixed(r.p99)}× its p99; ` +
    `${fixed(r.cpuVsFloor)}× the CPU per answer of bare node:http (the floor)`
  );
}

function heldLines(h: Held): string[] {
  return [
    `  ${h.target.padEnd(14)} ${whole(h.answeredPerSec)} polls/s answered of ${whole(h.ratePerSec)} due ` +
      `(${whole(h.answered)} of ${whole(h.due)}; backlog ${whole(h.backlog)})  p50 ${fixed(h.p50Ms, 1)} ms ` +
      `p99 ${fixed(h.p99Ms, 1)} ms max ${fixed(h.maxMs, 0)} ms`,
    `  ${''.padEnd(14)} ${h.target === 'room status' ? 'api' : 'child'} ${fixed(h.cores)} cores busy, ` +
      `${fixed(h.cpuMsPerPoll, 4)} cpu ms/poll (→ ${fixed((h.cpuMsPerPoll * h.ratePerSec) / 1000)} cores for ` +
      `${whole(h.ratePerSec)}/s); redis ${fixed(h.redisCores)} cores; load generator ` +
      `${fixed(h.loadGeneratorCores)} cores; non-200: ${odd(h.statusCounts, h.errors)}`,
    `  ${''.padEnd(14)} ${h.notHeld ? `not held: ${h.notHeld}` : 'held: every poll answered before the next was due'}`,
  ];
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const loadAtStart = loadAverage();
  const report = await withCleanup(settings.timeLimitSec, async (cleanup) => {
    const stack = await startStack(cleanup);
    const pids = stack.pids();
    console.log('\nseckill bench:room (waiting-room status polls vs bare express)');
    console.log(machineLine(loadAtStart));
    console.log(
      `api (api+worker) ${pids.api.join(',')}; express ${pids.express.join(',')}; redis-server ` +
        `${pids.redis.join(',')}; load generator ${process.pid}`,
    );
    const itemId = await createRoomSale(stack);
    const run = Date.now().toString(36);
    progress(`${whole(settings.visitors)} visitors join sale ${itemId} (fifo room admitting one visitor)`);
    const { result: joined, cpuMs: joinCpuMs } = await withCpu(stack, () =>
      joinVisitors(stack.apiUrl, itemId, run),
    );
    console.log(
      `  joined ${whole(settings.visitors)} in ${fixed(joined.ms / 1000, 1)} s ` +
        `(${whole((settings.visitors / joined.ms) * 1000)}/s on ${settings.joinConnections} connections; api ` +
        `${fixed(joinCpuMs.api / settings.visitors, 3)} cpu ms/join, redis ${fixed(joinCpuMs.redis / settings.visitors, 3)}); ` +
        `states at join: ${JSON.stringify(joined.states)}`,
    );
    const targets: Target[] = [
      { name: 'room status', url: stack.apiUrl, own: 'api' },
      { name: 'bare express', url: stack.expressUrl, own: 'express' },
      { name: 'bare node:http', url: stack.nodeUrl, own: 'express' },
    ];
    if (settings.profileDir) for (const pid of stack.servicePids) process.kill(pid, PROFILE_START_SIGNAL);

    console.log(
      `\nsaturation: ${settings.connections} connections, pipelining 1, ${settings.rounds} rounds, ` +
        `${settings.warmupSec} s warm-up + ${settings.durationSec} s per target, each poll another visitor's ticket`,
    );
    const { windows, ratios } = await saturation(stack, targets, itemId, joined.tickets);
    const summary = {
      reqPerSec: median(ratios.map((r) => r.reqPerSec)),
      cpuPerAnswer: median(ratios.map((r) => r.cpuPerAnswer)),
      cpuVsFloor: median(ratios.map((r) => r.cpuVsFloor)),
      p99: median(ratios.map((r) => r.p99)),
    };
    const medianOf = (name: TargetName, pick: (w: Window) => number) =>
      median(windows.filter((w) => w.target === name).map(pick));
    console.log(`\nsummary: median over ${settings.rounds} rounds`);
    for (const name of ['room status', 'bare express', 'bare node:http'] as const)
      console.log(
        `  ${name.padEnd(14)} req/s ${whole(medianOf(name, (w) => w.reqPerSec))}  p99 ` +
          `${fixed(
            medianOf(name, (w) => w.p99Ms),
            1,
          )} ms  cpu ms/answer ${fixed(
            medianOf(name, (w) => w.cpuMsPerAnswer),
            4,
          )}`,
      );
    console.log(`  ${ratioLine(summary)}`);
    console.log(`  per round: ${ratios.map((r) => `${fixed(r.reqPerSec)}×`).join(', ')}`);

    const held: Held[] = [];
    for (const pollIntervalMs of settings.pollIntervalsMs) {
      console.log(`\nthe crowd held: every visitor polls once per ${pollIntervalMs} ms (open model)`);
      const now: Held[] = [];
      for (const target of targets)
        now.push(await hold(stack, target, itemId, joined.tickets, pollIntervalMs));
      for (const h of now) console.log(heldLines(h).join('\n'));
      held.push(...now);
    }
    console.log(`\nload average at start ${loadAtStart}, at end ${loadAverage()}`);
    return {
      generatedAt: new Date().toISOString(),
      machine: machineReport(loadAtStart),
      settings,
      itemId,
      join: { ms: joined.ms, states: joined.states, cpuMs: joinCpuMs },
      windows,
      ratios,
      summary,
      held,
    };
  });
  console.log(`\nJSON: ${writeReport('bench-room', report)}`);
  if (settings.profileDir)
    printProfiles(settings.profileDir, {
      prefix: 'api',
      top: 20,
      missing: `no api CPU profile in ${settings.profileDir} (did the api stop gracefully?)`,
    });
}

runBenchFile(EXPRESS_FLAG, main);
