import { Worker } from 'node:worker_threads';

export interface EmbeddedPostgres {
  /** postgresql:// URL for pg / @prisma/adapter-pg / the Prisma CLI. */
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Directory to persist to; in memory when omitted. Not crash-safe either way. */
  dataDir?: string;
  /** TCP port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** Simultaneous client connections accepted (the socket server's default of 1 is too few for Prisma's CLI). */
  maxConnections?: number;
}

interface WorkerConfig {
  pglitePath: string;
  socketPath: string;
  dataDir?: string;
  port: number;
  maxConnections: number;
}

type FromWorker =
  { type: 'ready'; address: string } | { type: 'error'; message: string } | { type: 'stopped' };

/*
 * PGlite runs in a worker thread: its CommonJS build loads Node built-ins with dynamic import(), which a
 * vm-based runner (jest) refuses without --experimental-vm-modules; a worker has Node's own loader. It also
 * keeps PGlite's WASM CPU time off the caller's event loop. Plain JS, so it runs without a TS loader.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);
const { PGLiteSocketServer } = require(workerData.socketPath);
(async () => {
  const db = await PGlite.create(workerData.dataDir);
  const server = new PGLiteSocketServer({
    db, host: '127.0.0.1', port: workerData.port, maxConnections: workerData.maxConnections,
  });
  try {
    await server.start();
  } catch (err) {
    await db.close();
    throw err;
  }
  parentPort.on('message', async (msg) => {
    if (msg !== 'stop') return;
    await server.stop();
    await db.close();
    parentPort.postMessage({ type: 'stopped' });
  });
  parentPort.postMessage({ type: 'ready', address: server.getServerConn() });
})().catch((err) => parentPort.postMessage({ type: 'error', message: String(err && err.stack || err) }));
`;

function nextMessage(worker: Worker): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: FromWorker) => {
      worker.off('error', onError);
      resolve(msg);
    };
    const onError = (err: Error) => {
      worker.off('message', onMessage);
      reject(err);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
  });
}

/**
 * PostgreSQL for machines that have none: PGlite (Postgres compiled to WASM) behind its wire-protocol socket
 * server on 127.0.0.1. PGlite has a single database and ignores the name a client asks for, so the URL names
 * `postgres`. It runs one transaction at a time across all connections: for tests and demos, not for load.
 */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const config: WorkerConfig = {
    pglitePath: require.resolve('@electric-sql/pglite'),
    socketPath: require.resolve('@electric-sql/pglite-socket'),
    dataDir: opts.dataDir,
    port: opts.port ?? 0,
    maxConnections: opts.maxConnections ?? 32,
  };
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: config });
  const first = await nextMessage(worker).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  if (first.type !== 'ready') {
    await worker.terminate();
    throw new Error(
      `embedded PostgreSQL failed to start: ${first.type === 'error' ? first.message : first.type}`,
    );
  }

  let stopping: Promise<void> | undefined;
  return {
    // getServerConn() reports the port actually bound, also when 0 was asked for.
    url: `postgresql://postgres@${first.address}/postgres`,
    stop() {
      stopping ??= (async () => {
        const stopped = nextMessage(worker);
        worker.postMessage('stop');
        await stopped.catch(() => undefined); // closing PGlite cleanly matters only with a dataDir
        await worker.terminate();
      })();
      return stopping;
    },
  };
}
