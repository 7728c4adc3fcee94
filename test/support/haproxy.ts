// HAProxy in front of API processes: a config in a temporary folder, `haproxy -db` as a child of the test. Health
// checks take a killed backend out of the rotation; a request whose connection was refused goes to another.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../../src/infra/net';

export interface RunningHaproxy {
  url: string;
  stop(): Promise<void>;
}

export async function startHaproxy(backendUrls: string[]): Promise<RunningHaproxy> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'seckill-haproxy-'));
  const servers = backendUrls.map((url, i) => {
    const { hostname, port: backendPort } = new URL(url);
    return `  server api${i} ${hostname}:${backendPort} check inter 1000 fall 3 rise 2`;
  });
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      // A loaded 2-core machine answers a health check slowly; only a dead process should leave the rotation.
      '  timeout check 3s',
      '  retries 3',
      '  retry-on conn-failure',
      '  option redispatch',
      'frontend api',
      `  bind 127.0.0.1:${port}`,
      '  default_backend apis',
      'backend apis',
      '  balance roundrobin',
      '  option httpchk GET /healthz',
      ...servers,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('haproxy', ['-f', config, '-db', '-q'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!(await waitForPort(port, 10_000))) {
    child.kill('SIGKILL');
    throw new Error('haproxy did not start');
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
