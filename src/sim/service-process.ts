// One `seckill serve` child, for the simulator's --workers, the scale-out tests and bench:scale: a ManagedProcess
// (service-processes.ts, the same launcher chaos mode uses) on a port chosen here, ready once /healthz answers when
// it serves HTTP. Something that can be killed with -9 like a crashed container.
import { freePort } from '../infra/net';
import { ManagedProcess } from './service-processes';

export interface ServiceProcess {
  /** The HTTP address when the process runs the api role. */
  url?: string;
  readonly pid?: number;
  /** kill -9: the process dies with whatever it had in flight (and is not restarted). */
  kill(): Promise<void>;
  /** SIGTERM: graceful drain; kill -9 past the launcher's grace period. */
  stop(): Promise<void>;
}

export interface ServiceProcessOptions {
  roles: string;
  /** The service's environment on top of this process's; PORT unset or 0: a free port is picked. */
  env: Record<string, string>;
  /** `serve --workers N`. */
  workers?: number;
}

async function answers(url: string): Promise<boolean> {
  return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok;
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const port = Number(options.env.PORT) || (await freePort());
  const roles = options.roles.split(',');
  const url = roles.includes('api') || roles.includes('all') ? `http://127.0.0.1:${port}` : undefined;
  const child = new ManagedProcess({
    name: `serve --role ${options.roles}`,
    args: [
      'serve',
      '--role',
      options.roles,
      '--no-migrate',
      ...(options.workers ? ['--workers', String(options.workers)] : []),
    ],
    env: { ...process.env, ...options.env, HOST: '127.0.0.1', PORT: String(port) },
    ready: url ? () => answers(url) : undefined,
  });
  await child.start();
  return {
    url,
    get pid() {
      return child.pid;
    },
    kill: () => child.kill('SIGKILL'),
    stop: () => child.stop(),
  };
}
