// The machine's own PostgreSQL cluster restarted for real (pg_ctlcluster, as the machines' docs start it): every
// session of every database ends, and the server comes back on the same port. Only for a local cluster: a test
// pointed elsewhere (TEST_POSTGRES_URL) fails here rather than pretending.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { reachable } from '../../src/infra/net';

export async function restartLocalPostgres(): Promise<void> {
  if (process.env.TEST_POSTGRES_URL)
    throw new Error('restartLocalPostgres: TEST_POSTGRES_URL is not a local cluster');
  const version = readdirSync('/etc/postgresql')
    .sort((a, b) => Number(a) - Number(b))
    .pop();
  if (!version) throw new Error('restartLocalPostgres: no cluster under /etc/postgresql');
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100 && !(await reachable('127.0.0.1', 5432)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
