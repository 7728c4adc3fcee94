// What the benchmarks ask of a running service over HTTP, and the parts they share: the bare express app every
// figure is compared with (in this process or a child of its own), sales created through the admin route, crowds of
// never-seen buyers, the pipeline's drain, sizes from the environment, and stopping what a run started.
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import autocannon from 'autocannon';
import express from 'express';
import { STRATEGY_NAMES, type StrategyName } from '../src/config';

/**
 * The baseline: express parsing the same JSON body and answering, nothing else. Its GET of a waiting room reads the
 * same header a status poll carries and answers a small JSON object, for bench/room-status.ts.
 */
export function startBareExpress(): Promise<Server> {
  const app = express();
  app.use(express.json({ limit: '8kb' }));
  app.post('/seckill', (_req, res) => {
    res.status(200).json({ status: 'ok' });
  });
  app.get('/sales/:itemId/waiting-room', (req, res) => {
    res.status(200).json({ status: 'ok', ticketChars: req.get('waiting-room-ticket')?.length ?? 0 });
  });
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(server)));
  });
}

/**
 * The floor under any Node answer: node:http alone answering a waiting-room poll's path with a fixed JSON of a
 * status answer's size (no routing, no middleware, no work), reading the same header.
 */
export function startBareNodeHttp(): Promise<Server> {
  const body = JSON.stringify({
    state: 'waiting',
    position: 12345,
    ahead: 12344,
    serving: 1,
    padding: 'x'.repeat(90),
  });
  const server = createServer((req, res) => {
    const ticketChars = req.headers['waiting-room-ticket']?.length ?? 0;
    res.writeHead(ticketChars ? 200 : 400, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

export function urlOf(server: Server): string {
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('server has no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/**
 * The express child's part: the bare express app and the bare node:http floor (only one is driven at a time, so the
 * child's CPU is that one's), their URLs sent to the parent.
 */
export function runExpressChild(): void {
  void Promise.all([startBareExpress(), startBareNodeHttp()]).then(([express, node]) =>
    process.send!({ url: urlOf(express), nodeUrl: urlOf(node) }),
  );
  // The parent disconnects to say "done", and also when it dies: nothing is left running.
  process.once('disconnect', () => process.exit(0));
}

/**
 * The bare express app in a child of its own: `script` (the calling benchmark's file) again, with `flag`, which that
 * file answers with runExpressChild.
 */
export function startExpressChild(
  script: string,
  flag: string,
): Promise<{ child: ChildProcess; url: string; nodeUrl: string }> {
  const child = fork(script, [flag], { execArgv: process.execArgv });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => resolve({ child, ...(message as { url: string; nodeUrl: string }) }));
    child.once('exit', (code) => reject(new Error(`express child exited (${code}) before it was ready`)));
  });
}

/** Disconnects (the child's cue to exit); SIGKILL after 10 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.connected) child.disconnect();
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

/** Stops, last started first; each runs once even if cleanup is asked for twice (error, then a signal). */
export class Cleanup {
  private readonly steps: { name: string; run: () => Promise<unknown> | unknown }[] = [];
  private running?: Promise<void>;

  add(name: string, run: () => Promise<unknown> | unknown): void {
    this.steps.push({ name, run });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse())
        await Promise.resolve()
          .then(step.run)
          .catch((err) => console.error(`bench: stopping ${step.name} failed:`, err));
    })();
    return this.running;
  }
}

/**
 * `work` with a Cleanup that runs when it returns or throws, and also when it takes longer than `timeLimitSec`
 * (exit 1) or the run is interrupted (SIGINT 130, SIGTERM 143): nothing it started is left running.
 */
export async function withCleanup<T>(
  timeLimitSec: number,
  work: (cleanup: Cleanup) => Promise<T>,
): Promise<T> {
  const cleanup = new Cleanup();
  const abort = (why: string, code: number) => {
    console.error(`bench: ${why}; stopping everything`);
    void cleanup.run().finally(() => process.exit(code));
  };
  const deadline = setTimeout(() => abort(`gave up after ${timeLimitSec} s`, 1), timeLimitSec * 1000);
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  try {
    return await work(cleanup);
  } finally {
    clearTimeout(deadline);
    await cleanup.run();
  }
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export interface ServiceAdmin {
  serviceUrl: string;
  adminToken: string;
}

export interface BenchSale {
  name: string;
  stock: number;
  segments: number;
  strategy: StrategyName;
  paymentTimeoutMs: number;
  /** A waiting room in front of the sale (POST /admin/sales `admission`); none when absent. */
  admission?: { mode: 'fifo' | 'random'; ratePerSec?: number; maxUnfinished?: number; passTtlMs?: number };
}

/** Through the admin route, i.e. in the serving process: the sale is cached where it is served. */
export async function createSale(service: ServiceAdmin, sale: BenchSale): Promise<string> {
  const created = await postJson(`${service.serviceUrl}/admin/sales`, sale, {
    authorization: `Bearer ${service.adminToken}`,
  });
  if (created.status !== 201)
    throw new Error(`creating a sale failed: ${created.status} ${JSON.stringify(created.body)}`);
  return String(created.body.itemId);
}

/** A sale of one unit, bought: every later buyer hears sold_out. */
export async function createSoldOutSale(
  service: ServiceAdmin,
  sale: Omit<BenchSale, 'stock'>,
): Promise<string> {
  const itemId = await createSale(service, { ...sale, stock: 1 });
  const bought = await postJson(`${service.serviceUrl}/seckill`, { userId: 'bench-first-buyer', itemId });
  if (bought.status !== 201) throw new Error(`buying the only unit failed: ${bought.status}`);
  return itemId;
}

/** One autocannon request template whose every request names a user no earlier request of this template named. */
export function distinctUserRequests(name: string, itemId: string): autocannon.Request[] {
  const prefix = name.replace(/[^A-Za-z0-9]+/g, '-');
  let sent = 0;
  return [
    {
      setupRequest: (request) => ({
        ...request,
        body: JSON.stringify({ userId: `${prefix}-${sent++}`, itemId }),
      }),
    },
  ];
}

export function runAutocannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(options, (err: unknown, result: autocannon.Result) => (err ? reject(err) : resolve(result)));
  });
}

/** How many answers of each HTTP status a crowd got. */
export function statusCounts(result: autocannon.Result): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [status, stats] of Object.entries(result.statusCodeStats ?? {}))
    counts[status] = stats.count ?? 0;
  return counts;
}

/** Round r runs the targets rotated by r, so slow drift in the machine's load does not always hit the same one. */
export function rotated<T>(items: T[], by: number): T[] {
  const shift = by % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * Until every sale's outbox is relayed and the consumer caught up (GET /stats). Returns how long it took (null: not
 * within timeoutMs) and how many times /stats was asked.
 */
export async function waitForPipelineDrain(
  serviceUrl: string,
  options: { timeoutMs: number; pollMs: number },
): Promise<{ ms: number | null; polls: number }> {
  const started = performance.now();
  let polls = 0;
  while (performance.now() - started < options.timeoutMs) {
    polls++;
    const stats = (await (await fetch(`${serviceUrl}/stats`)).json()) as {
      items: { outboxPending: number; consumerLag: number }[];
    };
    if (stats.items.every((item) => item.outboxPending === 0 && item.consumerLag === 0))
      return { ms: performance.now() - started, polls };
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
  return { ms: null, polls };
}

/** The environment variable `name` as an integer >= 1; unset or empty: `fallback`. */
export function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be an integer >= 1, got "${raw}"`);
  return value;
}

/** A comma list of strategies from the environment variable `name` (`segmented-lock,lua`); unset or empty: `fallback`. */
export function strategiesFromEnv(name: string, fallback: readonly StrategyName[]): readonly StrategyName[] {
  const raw = process.env[name];
  if (!raw) return fallback;
  const names = raw.split(',').map((s) => s.trim());
  const unknown = names.filter((s) => !(STRATEGY_NAMES as readonly string[]).includes(s));
  if (unknown.length)
    throw new Error(`${name}: unknown ${unknown.join(', ')}; use ${STRATEGY_NAMES.join(', ')}`);
  return names as StrategyName[];
}
