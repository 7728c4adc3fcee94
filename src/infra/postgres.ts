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

/** A SQLSTATE: five digits or upper-case letters (a pg error's `code`; Node's own codes, such as ECONNRESET, are not). */
const SQLSTATE = /^[0-9A-Z]{5}$/;

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
    typeof code === 'string' && SQLSTATE.test(code) && !UNKNOWN_OUTCOME_CLASSES.includes(code.slice(0, 2))
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

/**
 * SQLSTATEs that say "no primary to talk to right now" rather than "this request is wrong": connection exceptions,
 * a server shutting down or starting (a failover, a restart), and a read-only answer (a standby, or a node still
 * finishing its promotion, was reached).
 */
const UNAVAILABLE_STATES = /^(08...|57P0[1-3]|25006)$/;
/** What node-postgres and Prisma say, without a SQLSTATE, when the connection itself failed or could not be had. */
const UNAVAILABLE_MESSAGES =
  /Connection terminated|connection error|ECONNREFUSED|ECONNRESET|timeout exceeded when trying to connect|Unable to start a transaction in the given time/;

/**
 * The SQLSTATE of a pg error, or of a Prisma error wrapping one (its driver adapter's cause, or its message; a Prisma
 * error's own `code` is Prisma's, such as P2028).
 */
function sqlStateOf(err: {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  meta?: unknown;
}): string | undefined {
  const prisma = typeof err.name === 'string' && err.name.startsWith('PrismaClient');
  if (!prisma && typeof err.code === 'string' && SQLSTATE.test(err.code)) return err.code;
  const meta = err.meta as { driverAdapterError?: { cause?: { originalCode?: unknown } } } | undefined;
  const original = meta?.driverAdapterError?.cause?.originalCode;
  if (typeof original === 'string') return original;
  return typeof err.message === 'string' ? /Code: `([0-9A-Z]{5})`/.exec(err.message)?.[1] : undefined;
}

/** The database could not serve this now (answered as 503 busy, never a 500): it may well a moment later. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const state = sqlStateOf(err as { code?: unknown });
  if (state) return UNAVAILABLE_STATES.test(state);
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message);
}
