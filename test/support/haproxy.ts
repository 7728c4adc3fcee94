// HAProxy in front of API processes. Health checks take a killed backend out of the rotation; a request whose
// connection was refused goes to another.
import { freePort } from '../../src/infra/net';
import { runHaproxy } from '../../src/sim/haproxy';

export interface RunningHaproxy {
  url: string;
  stop(): Promise<void>;
}

export async function startHaproxy(backendUrls: string[]): Promise<RunningHaproxy> {
  const port = await freePort();
  const servers = backendUrls.map((url, i) => {
    const { hostname, port: backendPort } = new URL(url);
    return `  server api${i} ${hostname}:${backendPort} check inter 1000 fall 3 rise 2`;
  });
  const haproxy = await runHaproxy('haproxy-api', port, [
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
  ]);
  return { url: `http://127.0.0.1:${port}`, stop: haproxy.stop };
}
