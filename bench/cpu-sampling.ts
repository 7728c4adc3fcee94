// What the CPU benchmarks (bench/cpu.ts, bench/room-status.ts) share: a process's CPU from /proc, and a service child
// that profiles itself with the inspector when asked to.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

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
// Profiled service children

/**
 * Set in the service children's environment when profiling: they then run the benchmark's own file as their entry,
 * which calls runProfiledServiceChild: the inspector's profiler starts on SIGUSR2 and the profile is written at
 * exit. `--cpu-prof` itself is refused in NODE_OPTIONS (Node 20), and the children's command line
 * (service-processes.ts) takes no node flags.
 */
export const PROFILED_CHILD_ENV = 'BENCH_CPU_PROFILE_CHILD_DIR';
export const PROFILE_START_SIGNAL = 'SIGUSR2';

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
