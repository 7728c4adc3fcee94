// A real Prometheus server for tests: the Debian package's binary, started by the test (never as a system service)
// with a generated config in a temporary folder, listening on 127.0.0.1 only.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/infra/net';
import { outputOf, recordOutput } from '../../src/infra/output-tails';

export interface ScrapeTarget {
  job: string;
  /** host:port */
  target: string;
  bearer?: string;
}

export interface RunningPrometheus {
  url: string;
  /** The data of an instant query, or throws with Prometheus's error. */
  query(
    expr: string,
  ): Promise<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>;
  stop(): Promise<void>;
}

/** PROMETHEUS_BIN overrides the lookup on PATH (and names a missing binary in tests of this message). */
export function prometheusBinary(explicit = process.env.PROMETHEUS_BIN): string {
  const found = explicit
    ? spawnSync('test', ['-x', explicit])
    : spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  const path = explicit ?? String(found.stdout).trim();
  if (found.status !== 0 || !path) {
    throw new Error(
      `the prometheus binary is missing${explicit ? ` at ${explicit}` : ''}: install the Debian package ` +
        '"prometheus" (apt-get install -y prometheus); scripts/ensure-services.sh does it when run as root',
    );
  }
  return path;
}

export async function startPrometheus(targets: ScrapeTarget[]): Promise<RunningPrometheus> {
  const binary = prometheusBinary();
  const dir = mkdtempSync(join(tmpdir(), 'seckill-prometheus-'));
  const port = await freePort();
  // JSON is YAML: no YAML library needed to write the config.
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    scrape_configs: targets.map(({ job, target, bearer }) => ({
      job_name: job,
      static_configs: [{ targets: [target] }],
      ...(bearer ? { authorization: { type: 'Bearer', credentials: bearer } } : {}),
    })),
  };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr!.on('data', (chunk: Buffer) => recordOutput('prometheus', chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode}:\n${outputOf('prometheus')}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready in 30 s:\n${outputOf('prometheus')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as { status: string; error?: string; data: any };
      if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
      return body.data;
    },
    stop,
  };
}
