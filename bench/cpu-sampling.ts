// What the CPU benchmarks (bench/cpu.ts, bench/room-status.ts) share: a process's CPU from /proc, the machine they
// ran on, a service child that profiles itself with the inspector when asked to, which part a benchmark's file plays,
// and the JSON report.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import os from 'node:os';
import path from 'node:path';
import { formatSummary, readProfile, summarizeProfile } from './cpu-profile-top';
import { runExpressChild } from './service-client';

const REPO_ROOT = path.resolve(__dirname, '..');

// ---------------------------------------------------------------------------------------------------------------
// CPU from /proc

export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
export const MS_PER_TICK = 1000 / CLK_TCK;

export interface ProcStat {
  /** The command name (postgres, patroni, etcd, haproxy…): tells a cluster's processes apart. */
  comm: string;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
}

/** Fields after the parenthesised command name (which may hold spaces): state is [0], ppid [1], utime [11]. */
export function parseStat(text: string): ProcStat {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  const comm = text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
  return { comm, ppid: Number(fields[1]), ticks: utime + stime + cutime + cstime };
}

/** Every process of the machine, read once per snapshot; one that exits between listing and reading is skipped. */
export function procTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      table.set(Number(entry), parseStat(readFileSync(`/proc/${entry}/stat`, 'utf8')));
    } catch {
      // gone
    }
  }
  return table;
}

/** `root` and all its descendants that are in the table. */
export function processTree(table: Map<number, ProcStat>, root: number): number[] {
  const tree = [root];
  for (let i = 0; i < tree.length; i++)
    for (const [pid, stat] of table) if (stat.ppid === tree[i]) tree.push(pid);
  return tree.filter((pid) => table.has(pid));
}

// ---------------------------------------------------------------------------------------------------------------
// The machine

export const loadAverage = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** For a benchmark's header: node, the cores, CLK_TCK and the load average `load` (the caller's "at start"). */
export function machineLine(load: string): string {
  const cpus = os.cpus();
  return (
    `node ${process.version}, ${cpus.length} cores (${cpus[0]?.model.trim() ?? 'unknown'}), CLK_TCK ${CLK_TCK}, ` +
    `load average at start ${load}`
  );
}

/** For the JSON report; the load average at end is read now. */
export function machineReport(loadAtStart: string) {
  return {
    node: process.version,
    cores: os.cpus().length,
    clkTck: CLK_TCK,
    loadAtStart,
    loadAtEnd: loadAverage(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Profiled service children

/**
 * Set in the service children's environment when profiling: they then run the benchmark's own file as their entry,
 * which calls runProfiledServiceChild: the inspector's profiler starts on SIGUSR2 and the profile is written at
 * exit. `--cpu-prof` itself is refused in NODE_OPTIONS (Node 20), and the children's command line
 * (service-processes.ts) takes no node flags.
 */
export const PROFILED_CHILD_ENV = 'BENCH_CPU_PROFILE_CHILD_DIR';
export const PROFILE_START_SIGNAL = 'SIGUSR2';

/**
 * The environment of the service's children in a CPU benchmark: this run's PostgreSQL and redis-server, no limiter,
 * and (with `profileDir`) profiled.
 */
export function serviceEnv(
  stack: { databaseUrl: string; redisUrl: string; adminToken: string },
  profileDir: string | undefined,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: stack.databaseUrl,
    REDIS_URL: stack.redisUrl,
    ADMIN_TOKEN: stack.adminToken,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_USER_PER_SEC: '0', // every request is another buyer or visitor anyway: measure the path, not the limiter
    MAX_IN_FLIGHT: '0',
  };
  // Ours, not the machine's: a configured broker or Redis Cluster would put processes outside the measurement.
  delete env.KAFKA_BROKERS;
  delete env.REDIS_CLUSTER_NODES;
  if (profileDir) env[PROFILED_CHILD_ENV] = profileDir;
  return env;
}

/** `serve --role api,worker …` → "api+worker", `broker …` → "broker". */
function roleOfThisProcess(): string {
  const args = process.argv.slice(2);
  const at = args.indexOf('--role');
  return at >= 0 ? (args[at + 1] ?? 'serve').replace(/,/g, '+') : (args[0] ?? 'node');
}

/**
 * A service process with the inspector's profiler: started on SIGUSR2 (the parent sends it once everything is up,
 * so start-up and TypeScript compilation stay out of the profile), written when the process exits. In an exit
 * handler only synchronous work runs; an in-thread inspector session answers synchronously.
 */
export async function runProfiledServiceChild(dir: string): Promise<void> {
  const session = new Session();
  session.connect();
  let profiling = false;
  process.on(PROFILE_START_SIGNAL, () => {
    if (profiling) return;
    session.post('Profiler.enable');
    session.post('Profiler.start');
    profiling = true;
  });
  process.on('exit', () => {
    if (!profiling) return;
    session.post('Profiler.stop', (err, result) => {
      if (err) return console.error('bench: Profiler.stop failed', err);
      const file = path.join(dir, `${roleOfThisProcess()}-${process.pid}.cpuprofile`);
      writeFileSync(file, JSON.stringify(result.profile));
    });
  });
  await import('../src/main');
}

/**
 * The profiles in `dir` whose file names start with `prefix` ('' for all), each summarised to its `top` functions.
 * They are written when the children exit: call after the service processes stopped. `missing` is said when there
 * are none.
 */
export function printProfiles(dir: string, options: { prefix: string; top: number; missing: string }): void {
  const files = readdirSync(dir)
    .filter((file) => file.startsWith(options.prefix) && file.endsWith('.cpuprofile'))
    .sort();
  if (!files.length) console.log(`\n${options.missing}`);
  for (const file of files) {
    const full = path.join(dir, file);
    console.log(`\n${formatSummary(full, summarizeProfile(readProfile(full), options.top)).join('\n')}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A benchmark's file

/**
 * The part the benchmark's file plays in this process: a profiled service child (PROFILED_CHILD_ENV set), the bare
 * express child (`expressFlag` among the arguments, see startExpressChild), or the benchmark itself (`main`).
 */
export function runBenchFile(expressFlag: string, main: () => Promise<void>): void {
  const fail = (error: unknown) => {
    console.error(error);
    process.exit(1);
  };
  const profiledChildDir = process.env[PROFILED_CHILD_ENV];
  if (profiledChildDir) runProfiledServiceChild(profiledChildDir).catch(fail);
  else if (process.argv.includes(expressFlag)) runExpressChild();
  else main().catch(fail);
}

/** `report` as reports/<name>-<time>.json; returns the file's path. */
export function writeReport(name: string, report: unknown): string {
  const dir = path.join(REPO_ROOT, 'reports'); // gitignored
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
