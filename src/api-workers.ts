// `seckill serve --workers N`: N API processes on one port (node:cluster hands each connection to one of them), the
// other roles and the embedded broker (when KAFKA_BROKERS is unset) in the primary. Each worker mints order ids under
// a worker id of its own: leased from Redis, or WORKER_ID + 1 + its index when WORKER_ID is set.
import cluster, { type Worker } from 'node:cluster';
import { once } from 'node:events';
import type { Config } from './config';
import type { Logger } from './infra/logger';
import type { Service } from './service';

const MAX_WORKER_ID = 1023;

export interface ApiWorkers {
  url: string;
  stop(): Promise<void>;
}

/** In the primary: forks the workers, replaces one that dies, resolves once every one is listening. */
export async function startApiWorkers(
  config: Config,
  service: Service,
  count: number,
  log: Logger,
): Promise<ApiWorkers> {
  const base = config.orders.workerId;
  if (base !== undefined && base + count > MAX_WORKER_ID) {
    throw new Error(`WORKER_ID ${base} + ${count} workers passes ${MAX_WORKER_ID}: pick a lower WORKER_ID`);
  }
  if (!service.running.brokers) await service.connectKafka();
  const env = (slot: number) => ({
    KAFKA_BROKERS: service.running.brokers!.join(','),
    ADMIN_TOKEN: service.adminToken,
    ...(base !== undefined ? { WORKER_ID: String(base + 1 + slot) } : {}),
  });
  let stopping = false;
  const workers = new Map<number, Worker>();
  const fork = (slot: number) => {
    const worker = cluster.fork(env(slot));
    workers.set(slot, worker);
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      log.warn({ slot, code, signal }, 'API worker died; starting another');
      fork(slot);
    });
    return worker;
  };
  const listening = await Promise.all(
    Array.from({ length: count }, (_, slot) =>
      once(fork(slot), 'listening').then(([address]) => address as { port: number }),
    ),
  );
  return {
    url: `http://${config.http.host}:${listening[0].port}`,
    async stop() {
      stopping = true;
      await Promise.all(
        [...workers.values()].map(async (worker) => {
          if (worker.process.exitCode !== null || worker.process.signalCode !== null) return;
          const exited = once(worker, 'exit');
          worker.process.kill('SIGTERM'); // graceful: the worker drains its in-flight orders
          await exited;
        }),
      );
    },
  };
}
