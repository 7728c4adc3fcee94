// A PostgreSQL cluster of the simulator's own (initdb + pg_ctl from the Debian packages), on a free loopback port:
// chaos mode restarts it for real without touching the machine's server, which other people's work may be using.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../infra/net';

const run = promisify(execFile);
export const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  /** Server URL without a database name, e.g. postgresql://postgres@127.0.0.1:40123 */
  url: string;
  port: number;
  /** An immediate shutdown (no checkpoint, sessions cut: a crash as clients see it) and a start on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /**
   * The postmaster (first) and its current children: a backend per connection plus the background processes.
   * Read from postmaster.pid and /proc, so it is empty once the cluster is down, and Linux only.
   */
  pids(): number[];
}

export interface PrivatePostgresOptions {
  /**
   * Keep fsync on (with synchronous_commit at its default, on): a COMMIT returns once its WAL is on disk, as in
   * production. For benchmarks, whose speed must not come from weaker durability. Default false (fsync off).
   */
  durable?: boolean;
}

export class PrivatePostgresUnavailableError extends Error {}

/** Why no private cluster can be started here, or undefined when it can. */
export function missingPrivatePostgres(): string | undefined {
  if (!existsSync(join(POSTGRES_BIN, 'initdb')) || !existsSync(join(POSTGRES_BIN, 'pg_ctl')))
    return `no ${POSTGRES_BIN}/initdb or pg_ctl (Debian: apt-get install -y postgresql-15)`;
  if (process.getuid?.() === 0 && !postgresUid())
    return 'running as root and there is no postgres user to run the cluster as';
  return undefined;
}

export function postgresUid(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** The postmaster's PID: the first line of postmaster.pid, or undefined while the cluster is down. */
export function postmasterPid(data: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** PIDs whose parent is `parent`, from the 4th field of /proc/<pid>/stat (after the parenthesised command name). */
export function childPids(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // exited between the listing and the read
    }
  }
  return children;
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
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
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(POSTGRES_BIN, tool), ...args])
      : run(join(POSTGRES_BIN, tool), args);
  const port = await freePort();
  const data = join(dir, 'data');
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // Durability across a real power loss is not what the sim tests (an immediate shutdown still keeps the WAL);
    // a benchmark asks for `durable`.
    ...(options.durable ? [] : ['-c fsync=off']),
    '-c max_connections=200',
  ].join(' ');
  const start = () => pg('pg_ctl', ['-D', data, '-o', serverOptions, '-l', join(dir, 'log'), '-w', 'start']);
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
    pids() {
      const postmaster = postmasterPid(data);
      return postmaster === undefined ? [] : [postmaster, ...childPids(postmaster)];
    },
  };
}
