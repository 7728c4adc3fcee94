// The service as a real child process (`seckill serve --role …`, the source run through tsx), for the simulator's
// --workers and the scale-out tests: something that can be killed with -9 like a crashed container.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ServiceProcess {
  child: ChildProcess;
  /** The HTTP address when the process runs the api role. */
  url?: string;
  /** kill -9: the process dies with whatever it had in flight. */
  kill(): Promise<void>;
  /** SIGTERM: graceful drain; resolves with the exit code (null: killed after STOP_GRACE_MS). */
  stop(): Promise<number | null>;
}

export interface ServiceProcessOptions {
  roles: string;
  /** The service's environment on top of this process's (LOG_LEVEL is raised to info to see the start line). */
  env: Record<string, string>;
  /** `serve --workers N`. */
  workers?: number;
  startTimeoutMs?: number;
}

const MAIN = join(__dirname, '..', 'main.ts');
const STOP_GRACE_MS = 20_000;

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const args = ['--import', 'tsx', MAIN, 'serve', '--role', options.roles, '--no-migrate'];
  if (options.workers !== undefined) args.push('--workers', String(options.workers));
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const started = new Promise<string | undefined>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`serve --role ${options.roles} did not start`)),
      options.startTimeoutMs ?? 60_000,
    );
    child.once('exit', (code) => reject(new Error(`serve --role ${options.roles} exited with ${code}`)));
    // Every line is read (the pipe must not fill up); the start line says where the api role listens.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('"seckill is running"')) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { url?: string }).url);
    });
  });
  started.catch(() => undefined);
  const kill = async () => {
    if (exited()) return;
    child.kill('SIGKILL');
    await once(child, 'exit');
  };
  try {
    const url = await started;
    return {
      child,
      url,
      kill,
      async stop() {
        if (exited()) return child.exitCode;
        const exit = once(child, 'exit') as Promise<[number | null]>;
        child.kill('SIGTERM');
        // A drain that outlasts the grace period is cut short, as an orchestrator would.
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        const [code] = await exit;
        clearTimeout(timer);
        return code;
      },
    };
  } catch (err) {
    await kill();
    throw err;
  }
}
