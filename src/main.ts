// CLI entry: seckill serve | broker | migrate | sim | stats
import cluster from 'node:cluster';
import { Command, Option } from 'commander';
import { startApiWorkers } from './api-workers';
import { loadConfig } from './config';
import { applyMigrations } from './infra/migrations';
import { createLogger } from './infra/logger';
import { startBroker } from './kafka-broker';
import { buildService, ROLES, type Role } from './service';
import { registerSimCommand } from './sim/cli';

/** Resolves on SIGINT/SIGTERM, so commands can shut down gracefully. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

function parseRoles(value: string): Role[] {
  const names = value.split(',').map((name) => name.trim());
  if (names.includes('all')) return [...ROLES];
  const unknown = names.filter((name) => !(ROLES as readonly string[]).includes(name));
  if (unknown.length) throw new Error(`unknown role(s) ${unknown.join(', ')}; use ${ROLES.join('|')}|all`);
  return names as Role[];
}

const program = new Command('seckill').description('Flash-sale backend and simulator');

program
  .command('serve')
  .description('run the service: any mix of roles in one process, or the api role in --workers processes')
  .option('--role <roles>', `comma list of ${ROLES.join('|')}, or all`, 'all')
  .option('--no-migrate', 'do not apply database migrations at start')
  .option(
    '--workers <n>',
    'run the api role in N processes on one port (node:cluster), the others here',
    (value) => {
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1)
        throw new Error(`--workers needs a whole number ≥ 1, not ${value}`);
      return count;
    },
  )
  .action(async (opts: { role: string; migrate: boolean; workers?: number }) => {
    // Listening for the signal before the start: a supervisor may stop the process as soon as it says it runs.
    const stopSignal = untilSignal();
    const config = loadConfig();
    const log = createLogger(config.logLevel);
    // A forked API worker runs the api role only; its primary migrated and hands it brokers and the admin token.
    const roles = cluster.isWorker ? (['api'] as Role[]) : parseRoles(opts.role);
    if (opts.migrate && cluster.isPrimary) await applyMigrations(config.databaseUrl);
    const service = buildService(config, { log });
    const apiWorkers = opts.workers !== undefined && cluster.isPrimary && roles.includes('api');
    const here = apiWorkers ? roles.filter((role) => role !== 'api') : roles;
    const { brokers } = await service.start(here);
    const workers = apiWorkers ? await startApiWorkers(config, service, opts.workers!, log) : undefined;
    const url = workers?.url ?? service.running.url;
    log.info(
      { roles, url, brokers: service.running.brokers ?? brokers, workers: opts.workers },
      'seckill is running',
    );
    if (!config.adminToken && roles.includes('api')) {
      // Printed once, on stdout, so the operator can use the admin routes of this run.
      console.log(`ADMIN_TOKEN=${service.adminToken}`);
    }
    const signal = await stopSignal;
    log.info({ signal }, 'draining');
    await workers?.stop();
    await service.stop();
    log.info('stopped');
  });

program
  .command('broker')
  .description('run the embedded Kafka-protocol broker on its own')
  .option('--host <host>', 'listen address', '127.0.0.1')
  .option('--port <port>', 'listen port (0 = any free port)', '9092')
  .option('--data-dir <dir>', 'log and offsets folder', '.data/kafka')
  .addOption(
    new Option('--fsync <policy>', 'when acknowledged writes reach the disk')
      .choices(['always', 'interval', 'never'])
      .default('always'),
  )
  .option('--partitions <n>', 'partitions of auto-created topics', '1')
  .action(
    async (opts: {
      host: string;
      port: string;
      dataDir: string;
      fsync: 'always' | 'interval' | 'never';
      partitions: string;
    }) => {
      const log = createLogger(loadConfig().logLevel, 'kafka-broker');
      const broker = await startBroker({
        host: opts.host,
        port: Number(opts.port),
        dataDir: opts.dataDir,
        fsync: opts.fsync,
        defaultPartitions: Number(opts.partitions),
        logger: log,
      });
      log.info({ address: broker.address, dataDir: opts.dataDir }, 'broker listening');
      await untilSignal();
      await broker.stop();
    },
  );

program
  .command('migrate')
  .description('create the database if missing and apply the migrations')
  .action(async () => {
    await applyMigrations(loadConfig().databaseUrl);
  });

program
  .command('stats')
  .description('print the reconciliation of every item (what GET /stats answers) from the stores directly')
  .action(async () => {
    const service = buildService(loadConfig({ ...process.env, LOG_LEVEL: 'warn' }));
    try {
      console.log(JSON.stringify({ items: await service.stats() }, null, 2));
    } finally {
      await service.stop();
    }
  });

registerSimCommand(program);

program.parseAsync().catch((err: Error) => {
  console.error(`seckill: ${err.message}`);
  process.exit(1);
});
