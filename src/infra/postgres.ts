// node-postgres: the service's pools (the purchase path's group commit, the relay and consumer, Prisma's), what a
// failed COMMIT may have done, and a checked-out client's error events.
import { Pool, type PoolClient } from 'pg';
import type { Logger } from './logger';

const CONNECT_TIMEOUT_MS = 5_000;

export function createPgPool(databaseUrl: string, max: number, log: Logger): Pool {
  // UTC so that CURRENT_TIMESTAMP defaults agree with the UTC instants Prisma writes into the same columns.
  const pool = new Pool({
    connectionString: databaseUrl,
    max,
    options: '-c TimeZone=UTC',
    // pg waits forever by default: a connection through a proxy whose server never answers would hang its caller.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  // An idle connection dropped by the server (restart, failover) must not take the process down with it.
  pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection lost; the pool opens a new one'));
  return pool;
}

export interface ServicePools {
  /** The purchase path's group commit. */
  purchase: Pool;
  /** The outbox relay's lanes and the inventory consumer. */
  pipeline: Pool;
  /** Prisma's: everything else (sales, payments, /stats, sweeps). */
  general: Pool;
  end(): Promise<void>;
}

/**
 * Three pools kept apart, so that a relay held up by a slow broker, a /stats scan or an expiry job cannot take the
 * purchase path's connections; connections open only when a role asks. A general size of 1 (PGlite, whose single
 * session cannot take two connections' queries at once) makes them one pool of one connection: correct, and slow.
 */
export function createServicePools(
  databaseUrl: string,
  sizes: { purchase: number; pipeline: number; general: number },
  log: Logger,
): ServicePools {
  if (sizes.general === 1) {
    const only = createPgPool(databaseUrl, 1, log);
    return { purchase: only, pipeline: only, general: only, end: () => only.end() };
  }
  const pools = {
    purchase: createPgPool(databaseUrl, sizes.purchase, log),
    pipeline: createPgPool(databaseUrl, sizes.pipeline, log),
    general: createPgPool(databaseUrl, sizes.general, log),
  };
  return {
    ...pools,
    end: async () => {
      await Promise.allSettled(Object.values(pools).map((pool) => pool.end()));
    },
  };
}

/** SQLSTATE classes after which a COMMIT may or may not have happened: connection exception, operator intervention. */
const UNKNOWN_OUTCOME_CLASSES = ['08', '57'];

/**
 * Did the server certainly roll the transaction back? A server error (SQLSTATE) outside the classes above says so;
 * a broken connection (no SQLSTATE) after COMMIT was sent does not.
 */
export function isDefiniteFailure(err: unknown, commitSent: boolean): boolean {
  if (!commitSent) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    /^[0-9A-Z]{5}$/.test(code) &&
    !UNKNOWN_OUTCOME_CLASSES.includes(code.slice(0, 2))
  );
}

/** Deadlock or serialization failure: rolled back, and worth one more try. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}

/**
 * While a client is checked out, a connection that breaks emits 'error' on the client, which would end the process
 * unheard; the running or next query's rejection is what callers act on. Returns the undo, for before the release.
 */
export function leaveErrorsToQueries(client: PoolClient): () => void {
  const ignore = () => undefined;
  client.on('error', ignore);
  return () => client.off('error', ignore);
}
