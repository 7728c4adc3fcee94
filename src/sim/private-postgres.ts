// A PostgreSQL cluster of the simulator's own (initdb + pg_ctl from the Debian packages), on a free loopback port:
// chaos mode restarts it for real without touching the machine's server, which other people's work may be using.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../infra/net';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  /** Server URL without a database name, e.g. postgresql://postgres@127.0.0.1:40123 */
  url: string;
  port: number;
  /** An immediate shutdown (no checkpoint, sessions cut: a crash as clients see it) and a start on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export class PrivatePostgresUnavailableError extends Error {}

/** Why no private cluster can be started here, or undefined when it can. */
export function missingPrivatePostgres(): string | undefined {
  if (!existsSync(join(BIN, 'initdb')) || !existsSync(join(BIN, 'pg_ctl')))
    return `no ${BIN}/initdb or pg_ctl (Debian: apt-get install -y postgresql-15)`;
  if (process.getuid?.() === 0 && !postgresUid())
    return 'running as root and there is no postgres user to run the cluster as';
  return undefined;
}

function postgresUid(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const missing = missingPrivatePostgres();
  if (missing) throw new PrivatePostgresUnavailableError(missing);
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'seckill-chaos-pg-'));
  // PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
  if (asRoot) {
    const owner = postgresUid()!;
    chownSync(dir, owner.uid, owner.gid);
  }
  const pg = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(BIN, tool), ...args]) : run(join(BIN, tool), args);
  const port = await freePort();
  const data = join(dir, 'data');
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // Durability across a real power loss is not what the sim tests; an immediate shutdown still keeps the WAL.
    '-c fsync=off',
    '-c max_connections=200',
  ].join(' ');
  const start = () => pg('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  try {
    await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new PrivatePostgresUnavailableError(`private PostgreSQL did not start: ${(err as Error).message}`);
  }
  return {
    url: `postgresql://postgres@127.0.0.1:${port}`,
    port,
    async restart() {
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      await start();
    },
    async stop() {
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
