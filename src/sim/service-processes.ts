// The service as real child processes (`seckill serve …`, `seckill broker`), so that chaos mode can kill -9, restart,
// SIGSTOP and SIGCONT them: the broker, N api processes (each with the worker role) on ports of their own, one relay
// and one consumer. Each child is supervised like systemd's Restart=always would: one that dies without being asked
// to is started again, and counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { extname, join } from 'node:path';
import { freePort, waitForPort } from '../infra/net';
import { outputOf, recordOutput } from '../infra/output-tails';

const READY_TIMEOUT_MS = 60_000;
const SUPERVISOR_RESTART_DELAY_MS = 500;
const STOP_GRACE_MS = 15_000;

export class ProcessStartError extends Error {}

/**
 * The CLI these children run: src/main.ts through tsx when this module runs from source (dist/ may be older than
 * src/), dist/main.js when it runs built. `entry` overrides it (a test build of the service).
 */
function cliCommand(entry?: string): string[] {
  if (entry) return ['--import', 'tsx', entry];
  const fromSource = extname(__filename) === '.ts';
  const main = join(__dirname, '..', `main${fromSource ? '.ts' : '.js'}`);
  return fromSource ? ['--import', 'tsx', main] : [main];
}

export interface ManagedProcessSpec {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Ready when this answers true; a port is waited for when given instead. */
  ready?: () => Promise<boolean>;
  port?: number;
  entry?: string;
}

/** One supervised child: start, kill with a signal, pause/resume, restart on the same port and data. */
export class ManagedProcess {
  private child?: ChildProcess;
  private expectingExit = false;
  private stopped = false;
  /** Exits nobody asked for (crashes), each followed by a supervisor restart. */
  unexpectedExits = 0;

  constructor(readonly spec: ManagedProcessSpec) {}

  get name(): string {
    return this.spec.name;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    this.expectingExit = false;
    const child = spawn(process.execPath, [...cliCommand(this.spec.entry), ...this.spec.args], {
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const record = (chunk: Buffer) => recordOutput(this.name, chunk.toString());
    child.stdout!.on('data', record);
    child.stderr!.on('data', record);
    child.once('exit', () => {
      if (this.expectingExit || this.stopped || this.child !== child) return;
      this.unexpectedExits++;
      setTimeout(() => {
        if (!this.stopped && this.child === child) void this.start().catch(() => undefined);
      }, SUPERVISOR_RESTART_DELAY_MS);
    });
    const exited = once(child, 'exit').then(() => false);
    const ready = this.waitReady();
    if (!(await Promise.race([ready, exited]))) {
      await this.kill('SIGKILL');
      throw new ProcessStartError(`${this.name} did not become ready: ${outputOf(this.name).slice(-1500)}`);
    }
  }

  private async waitReady(): Promise<boolean> {
    if (this.spec.port !== undefined) return waitForPort(this.spec.port, READY_TIMEOUT_MS);
    if (!this.spec.ready) return true;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.running) return false;
      if (await this.spec.ready().catch(() => false)) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  /** Sends `signal` and waits for the exit; the supervisor does not restart it (call start or restart). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectingExit = true;
    const exit = once(child, 'exit');
    child.kill('SIGCONT'); // a paused process cannot act on SIGTERM
    child.kill(signal);
    await exit;
  }

  /** kill -9 and start again: same arguments, same port, same data. */
  async restart(): Promise<void> {
    await this.kill('SIGKILL');
    await this.start();
  }

  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Graceful stop (SIGTERM), kill -9 when it takes longer than STOP_GRACE_MS. */
  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    if (!child || !this.running) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.kill('SIGTERM');
    clearTimeout(timer);
  }

  describe(): string {
    return `${this.name}${this.pid ? ` (pid ${this.pid})` : ''}`;
  }
}

export interface ServiceProcessesOptions {
  /** The children's environment: DATABASE_URL, REDIS_URL, ADMIN_TOKEN… (KAFKA_BROKERS: no broker child). */
  env: NodeJS.ProcessEnv;
  /** How many api processes (each also runs the worker role), on distinct ports. Default 1. */
  apis?: number;
  /** Extra arguments of every `serve` child (e.g. another engineer's `--workers N`). */
  serveArgs?: string[];
  /** The broker child's data folder (required unless env.KAFKA_BROKERS is set). */
  brokerDataDir?: string;
  /** Entry script instead of the CLI's own (a test build of the service). */
  entry?: string;
}

export interface ServiceProcesses {
  broker?: ManagedProcess;
  apis: ManagedProcess[];
  relay: ManagedProcess;
  consumer: ManagedProcess;
  /** Base URL of each api process, in the order of `apis`. */
  urls: string[];
  all(): ManagedProcess[];
  stop(): Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

export async function startServiceProcesses(options: ServiceProcessesOptions): Promise<ServiceProcesses> {
  const started: ManagedProcess[] = [];
  const launch = async (spec: ManagedProcessSpec) => {
    const child = new ManagedProcess({ entry: options.entry, ...spec });
    started.push(child);
    await child.start();
    return child;
  };
  const stopAll = async () => {
    // Consumers of the broker first, the broker last, so nothing retries against a broker that is gone.
    for (const child of [...started].reverse()) await child.stop();
  };
  try {
    let env = { ...options.env };
    let broker: ManagedProcess | undefined;
    if (!env.KAFKA_BROKERS) {
      if (!options.brokerDataDir) throw new ProcessStartError('a broker child needs brokerDataDir');
      const port = await freePort();
      broker = await launch({
        name: 'broker',
        args: ['broker', '--port', String(port), '--data-dir', options.brokerDataDir],
        env,
        port,
      });
      env = { ...env, KAFKA_BROKERS: `127.0.0.1:${port}` };
    }
    const serve = (roles: string) => ['serve', '--role', roles, '--no-migrate', ...(options.serveArgs ?? [])];
    const apis: ManagedProcess[] = [];
    const urls: string[] = [];
    for (let i = 0; i < (options.apis ?? 1); i++) {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      urls.push(url);
      apis.push(
        await launch({
          name: `api-${i}`,
          args: serve('api,worker'),
          env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
          ready: () => healthy(url),
        }),
      );
    }
    const relay = await launch({ name: 'relay', args: serve('relay'), env });
    const consumer = await launch({ name: 'consumer', args: serve('consumer'), env });
    return {
      broker,
      apis,
      relay,
      consumer,
      urls,
      all: () => [...started],
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
