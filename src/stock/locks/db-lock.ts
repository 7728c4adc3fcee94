// db-lock: the segment's ledger row (stock_segments) locked with SELECT … FOR UPDATE SKIP LOCKED in a small
// transaction of its own, held while the unit is taken from the segment's Redis counter, released by COMMIT. A row
// another buyer holds is skipped: the walk moves on, as segmented-lock does. Its lease is PostgreSQL's
// idle_in_transaction_session_timeout: a holder stalled that long loses its session and with it the lock.
// Fencing token: pg_snapshot_xmax(pg_current_snapshot()) read after the lock is held, the next transaction id to be
// assigned. Every earlier holder read its token before it let go of the row, so a later holder's is never lower;
// an equal one is refused too.
//
// Why not take the unit inside the order's batch, as `db` does: that is `db` (one row lock per batch, not per
// purchase); this measures the classic pessimistic lock per purchase, with the same fencing as the other backends,
// and leaves group commit as it is.
import { Pool, type PoolClient } from 'pg';
import type { SegmentKeys } from '../keys';
import type { HeldLock, SegmentLock } from '../segment-takers';
import { LOCK_CALL_TIMEOUT_MS } from './deadline';

/** Buyers holding a row at once per process; more wait for a connection. */
const POOL_SIZE = 8;

export class DatabaseRowLock implements SegmentLock {
  private readonly pool: Pool;

  constructor(databaseUrl: string, leaseMs: number) {
    this.pool = new Pool({
      connectionString: databaseUrl,
      max: POOL_SIZE,
      // Waiting for a free connection counts too: a purchase gives up after this (busy), the pool keeps its client.
      connectionTimeoutMillis: LOCK_CALL_TIMEOUT_MS,
      options: `-c idle_in_transaction_session_timeout=${leaseMs}`,
    });
    this.pool.on('error', () => undefined); // an idle connection ended by the server: the pool opens a new one
  }

  async acquire(keys: SegmentKeys): Promise<HeldLock | undefined> {
    const client = await this.pool.connect();
    // The server ends a stalled holder's session: that arrives as an 'error' on the checked-out client.
    const ignore = () => undefined;
    client.on('error', ignore);
    const done = (err?: Error) => {
      client.off('error', ignore);
      client.release(err);
    };
    try {
      // One round trip (simple protocol, so literals: both are numbers checked here): lock, then read the token.
      const [, locked, token] = (await client.query(
        `BEGIN;
         SELECT 1 FROM stock_segments WHERE item_id = ${BigInt(keys.itemId)} AND segment = ${Math.trunc(keys.segment)}
           FOR UPDATE SKIP LOCKED;
         SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS token`,
      )) as unknown as { rows: { token?: string }[] }[];
      if (!locked.rows.length) {
        await client.query('ROLLBACK');
        done();
        return undefined;
      }
      return { token: BigInt(token.rows[0].token!), release: () => commit(client, done) };
    } catch (err) {
      done(err as Error);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

async function commit(client: PoolClient, done: (err?: Error) => void): Promise<void> {
  try {
    await client.query('COMMIT');
    done();
  } catch (err) {
    done(err as Error); // the session is gone (lease ran out): so is the lock
  }
}
