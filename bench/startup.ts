/**
 * Start-up time (spawn → first 200 from /healthz) and memory (RSS of the whole process tree) of the compiled
 * service against the TypeScript one:
 *   npm run build && npm run bench:startup      runs: BENCH_STARTUP_RUNS (5), alternating the two
 *
 * Both serve every role on the same Redis and PostgreSQL (REDIS_URL, DATABASE_URL; defaults of the service), with
 * the embedded Kafka broker in a temporary folder. `--no-migrate` leaves out `prisma migrate deploy`, which both
 * run at start by default and which costs the same for both (a child process); the migrated run is measured too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/infra/net';

const ROOT = join(__dirname, '..');
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 5);

const TARGETS = [
  { name: 'node dist/main.js serve', argv: [process.execPath, 'dist/main.js', 'serve'] },
  {
    name: 'tsx src/main.ts serve',
    argv: [join(ROOT, 'node_modules', '.bin', 'tsx'), 'src/main.ts', 'serve'],
  },
];

/** RSS in MB of pid and every descendant (tsx's CLI runs the program in a child node process). */
function treeRssMb(rootPid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  let kb = 0;
  const queue = [rootPid];
  while (queue.length) {
    const pid = queue.pop()!;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) kb += Number(match[1]);
    } catch {
      continue;
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return kb / 1024;
}

async function measure(argv: string[], migrate: boolean) {
  const port = await freePort();
  const kafkaDir = mkdtempSync(join(os.tmpdir(), 'seckill-startup-'));
  const started = process.hrtime.bigint();
  const child = spawn(argv[0], [...argv.slice(1), ...(migrate ? [] : ['--no-migrate'])], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      KAFKA_DATA_DIR: kafkaDir,
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN: 'x'.repeat(24),
    },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${argv.join(' ')} exited ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const startupMs = Number(process.hrtime.bigint() - started) / 1e6;
    const rssReady = treeRssMb(child.pid!);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    return { startupMs, rssReady, rssSettled: treeRssMb(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    rmSync(kafkaDir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  if (!existsSync(join(ROOT, 'dist', 'main.js'))) throw new Error('dist/ is missing: npm run build first');
  for (const migrate of [false, true]) {
    const results = new Map<string, Awaited<ReturnType<typeof measure>>[]>();
    for (let run = 0; run < RUNS; run++) {
      for (const target of TARGETS) {
        results.set(target.name, [...(results.get(target.name) ?? []), await measure(target.argv, migrate)]);
      }
    }
    console.log(
      `\n${migrate ? 'with migrations at start (the default)' : '--no-migrate'}, median of ${RUNS}:`,
    );
    for (const [name, runs] of results) {
      const startup = median(runs.map((r) => r.startupMs));
      const range = `${Math.min(...runs.map((r) => r.startupMs)).toFixed(0)}–${Math.max(...runs.map((r) => r.startupMs)).toFixed(0)}`;
      console.log(
        `  ${name.padEnd(26)} start-up ${startup.toFixed(0)} ms (${range})  RSS ready ${median(runs.map((r) => r.rssReady)).toFixed(0)} MB, after 3 s ${median(runs.map((r) => r.rssSettled)).toFixed(0)} MB`,
      );
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
