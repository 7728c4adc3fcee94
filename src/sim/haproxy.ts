// HAProxy as a child process: a config in a temporary folder, `haproxy -db` in the foreground, listening on a port
// of 127.0.0.1 the caller chose. The scale-out tests put it in front of API processes; the Patroni cluster
// (postgres-ha.ts) in front of its PostgreSQL nodes.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForPort } from '../infra/net';
import { recordOutput } from '../infra/output-tails';

export interface HaproxyProcess {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** `config`: the lines of haproxy.cfg; one of its frontends binds 127.0.0.1:`port`. */
export async function runHaproxy(name: string, port: number, config: string[]): Promise<HaproxyProcess> {
  const dir = mkdtempSync(join(tmpdir(), `seckill-${name}-`));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, [...config, ''].join('\n'));
  const child = spawn('haproxy', ['-f', file, '-db', '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (chunk: Buffer) => recordOutput(name, chunk.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exit = once(child, 'exit');
      child.kill('SIGKILL');
      await exit;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await waitForPort(port, 10_000))) {
    await stop();
    throw new Error(`${name}: haproxy did not start on port ${port}`);
  }
  return { port, pid: child.pid!, stop };
}
