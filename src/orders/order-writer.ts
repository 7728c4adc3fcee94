// Group commit: concurrent purchases are collected into batches (up to maxBatch orders, or whatever arrived within
// lingerMs) and written in one transaction, which
//   1. inserts the orders, skipping buyers the (item, user) unique constraint refuses, and their order.created rows
//      (one statement),
//   2. locks the ledger rows of the batch's segments (in key order, so batches never deadlock on them),
//   3. admits per segment at most `capacity - sold` of the inserted orders (the arbiter),
//   4. deletes the refused orders and their rows and advances the ledger, in one statement.
// The ledger is locked last so that a hot item's rows are held only for two statements and the COMMIT: concurrent
// batches overlap their inserts.
// Each request awaits its own order's fate. A COMMIT whose reply is lost is resolved by reading back, never guessed.
// While the database cannot be reached (a failover, a restart) a circuit breaker fails batches at once, and
// placeOrder asks `accepting()` before it takes a unit: buyers hear "busy" instead of waiting on dead connections
// (and instead of holding units that would read as sold out to everyone else until the database is back).
// Nor does an order wait in the queue behind a stalled batch (a COMMIT waiting for a synchronous standby, a
// connection attempt to a node that is gone) for longer than maxQueueWaitMs: it is answered "busy" with its unit
// back, within the buyer's patience, rather than answered after the buyer has given up and asked again (and heard
// "duplicate" about a purchase still holding its claim).
// cockatiel 3: its 4.x needs Node 22 and ESM.
import {
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import type { Pool, PoolClient } from 'pg';
import { ORDERS_TOPIC, type OrderEventType } from '../order-events';
import {
  isDatabaseUnavailable,
  isDefiniteFailure,
  isRetryable,
  leaveErrorsToQueries,
} from '../infra/postgres';
import type { Logger } from '../infra/logger';
import type { IdGenerator } from './ids';

export interface OrderToWrite {
  orderId: string;
  itemId: string;
  userId: string;
  segment: number;
  paymentTimeoutMs: number;
}

/**
 * ordered · duplicate (the user already has an order) · refused (the segment's ledger is full) · failed (rolled back
 * for sure, or never tried because the queue was full) · unknown (the database could not be asked in time: the
 * reservation sweeper settles it later)
 */
export type WriteOutcome = 'ordered' | 'duplicate' | 'refused' | 'failed' | 'unknown';

export interface OrderWriterOptions {
  maxBatch: number;
  lingerMs: number;
  /** Orders waiting for a batch; beyond this a purchase is answered "busy" at once. */
  maxQueued: number;
  /** Batches committing at the same time. */
  concurrency: number;
  /** How long an order may wait in the queue while a batch is committing before it is answered "failed" (busy). */
  maxQueueWaitMs: number;
  /** How long an unknown commit outcome is chased before it is left to the sweeper. */
  resolveTimeoutMs: number;
  /**
   * Batches in a row that found the database away (no connection, a broken one, a standby answering) before the
   * breaker opens, and how long it stays open before one more try.
   */
  breaker: { failures: number; halfOpenAfterMs: number };
  /** Runs once per committed batch with its admitted orders (payment timeouts, relay wake-up, metrics). */
  afterCommit?: (orders: OrderToWrite[]) => void;
  onBatch?: (size: number, seconds: number) => void;
}

interface Pending {
  order: OrderToWrite;
  /** Date.now() when it was queued. */
  queuedAt: number;
  resolve(outcome: WriteOutcome): void;
}

interface LedgerRow {
  item_id: string;
  segment: number;
  free: number;
  enforced: boolean;
}

export class OrderWriter {
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Fires when the oldest queued order has waited maxQueueWaitMs. */
  private waitTimer: NodeJS.Timeout | undefined;
  /** Orders answered busy from the queue since the last log line about them, and when that was. */
  private turnedAway = 0;
  private turnedAwayLoggedAt = 0;
  private committing = 0;
  private readonly idle = new Set<() => void>();
  private readonly breaker: CircuitBreakerPolicy;
  /** Batches whose COMMIT outcome is being read back. */
  private resolving = 0;
  private openedAt = 0;

  constructor(
    private readonly pool: Pool,
    private readonly ids: IdGenerator,
    private readonly log: Logger,
    private readonly options: OrderWriterOptions,
  ) {
    // Counted: failures that say the database is away (no connection, a broken one, a standby answering), not a
    // batch rolled back by the database itself.
    const databaseAway = handleWhen((err) => err instanceof OutcomeUnknown || isDatabaseUnavailable(err));
    this.breaker = circuitBreaker(databaseAway, {
      halfOpenAfter: options.breaker.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breaker.failures),
    });
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
      log.warn('PostgreSQL unreachable: purchases answer busy until it is back');
    });
    this.breaker.onReset(() => log.info('PostgreSQL reachable again: purchases resume'));
    // The probe batch is on its way: whatever queued behind it would wait as long as the probe does.
    this.breaker.onHalfOpen(() => this.failQueued());
  }

  /**
   * False while the breaker is open (the database was unreachable just now), one batch is probing whether it is
   * back (half-open), or a batch's fate is being read back: a purchase would only take a unit to wait with it, and
   * the units held so would read as sold out to others.
   */
  accepting(): boolean {
    if (this.resolving || this.breaker.state === CircuitState.HalfOpen) return false; // asking the database
    // cockatiel turns half-open only on the next call after the wait: once it is over, let purchases make that call.
    const waited = Date.now() - this.openedAt >= this.options.breaker.halfOpenAfterMs;
    return this.breaker.state !== CircuitState.Open || waited;
  }

  write(order: OrderToWrite): Promise<WriteOutcome> {
    if (this.queue.length >= this.options.maxQueued) return Promise.resolve('failed');
    return new Promise((resolve) => {
      this.queue.push({ order, queuedAt: Date.now(), resolve });
      this.armWaitTimer(this.options.maxQueueWaitMs);
      if (this.queue.length >= this.options.maxBatch) this.startBatches();
      else this.timer ??= setTimeout(() => this.startBatches(), this.options.lingerMs);
    });
  }

  /** Resolves once every queued and committing batch is done. */
  async flush(): Promise<void> {
    this.startBatches();
    while (this.queue.length || this.committing) {
      await new Promise<void>((resolve) => this.idle.add(resolve));
    }
  }

  private startBatches(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.committing < this.options.concurrency && this.queue.length) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.committing++;
      void this.commit(batch).finally(() => {
        this.committing--;
        // Whatever queued during this commit goes now: that wait was the linger.
        if (this.queue.length) this.startBatches();
        for (const done of this.idle) done();
        this.idle.clear();
      });
    }
  }

  /**
   * Orders queued for maxQueueWaitMs (behind a stalled batch) are answered "failed" (busy; their units go back).
   * One timer for the oldest order, looked at again for the next oldest: nothing per order on the hot path.
   */
  private failOverdue(): void {
    this.waitTimer = undefined;
    const cutoff = Date.now() - this.options.maxQueueWaitMs;
    let overdue = 0;
    while (overdue < this.queue.length && this.queue[overdue].queuedAt <= cutoff) overdue++;
    if (overdue) this.failQueued(overdue);
    if (this.queue.length)
      this.armWaitTimer(this.queue[0].queuedAt + this.options.maxQueueWaitMs - Date.now());
  }

  private armWaitTimer(ms: number): void {
    this.waitTimer ??= setTimeout(() => this.failOverdue(), ms).unref();
  }

  /** The first `count` orders not yet sent to the database (all by default) are answered "failed" (busy). */
  private failQueued(count = this.queue.length): void {
    if (!count) return;
    const waiting = this.queue.splice(0, count);
    for (const pending of waiting) pending.resolve('failed');
    this.turnedAway += waiting.length;
    // Once a second at most: a stall turns orders away every few milliseconds.
    if (Date.now() - this.turnedAwayLoggedAt < 1000) return;
    this.log.warn(
      { orders: this.turnedAway },
      'orders queued behind a stalled or probing batch answered busy',
    );
    this.turnedAway = 0;
    this.turnedAwayLoggedAt = Date.now();
  }

  private async commit(batch: Pending[]): Promise<void> {
    const started = process.hrtime.bigint();
    const outcomes = await this.commitWithRetry(batch.map((p) => p.order));
    this.options.onBatch?.(batch.length, Number(process.hrtime.bigint() - started) / 1e9);
    const committed = batch.filter((_, i) => outcomes[i] === 'ordered').map((p) => p.order);
    batch.forEach((pending, i) => pending.resolve(outcomes[i]));
    if (committed.length) this.options.afterCommit?.(committed);
  }

  private async commitWithRetry(orders: OrderToWrite[]): Promise<WriteOutcome[]> {
    for (let attempt = 1; ; attempt++) {
      const result = await this.commitOnce(orders);
      if (result.kind === 'done') return result.outcomes;
      if (result.kind === 'retry' && attempt < 3) continue;
      if (result.kind === 'unknown')
        return this.resolveWhileRefusing(orders, result.backendPid, result.startedAt);
      this.log.warn({ err: result.err, orders: orders.length }, 'order batch rolled back');
      return orders.map(() => 'failed');
    }
  }

  private async commitOnce(
    orders: OrderToWrite[],
  ): Promise<
    | { kind: 'done'; outcomes: WriteOutcome[] }
    | { kind: 'retry' | 'failed'; err: unknown }
    | { kind: 'unknown'; backendPid: number; startedAt: Date }
  > {
    try {
      return { kind: 'done', outcomes: await this.breaker.execute(() => this.transaction(orders)) };
    } catch (err) {
      if (err instanceof OutcomeUnknown)
        return { kind: 'unknown', backendPid: err.backendPid, startedAt: err.startedAt };
      // Rolled back for sure, never tried (no connection, the breaker open), or a deadlock worth one more try.
      return { kind: isRetryable(err) ? 'retry' : 'failed', err };
    }
  }

  /** One transaction: the batch's outcomes, or a throw (OutcomeUnknown when the COMMIT's fate is not known). */
  private async transaction(orders: OrderToWrite[]): Promise<WriteOutcome[]> {
    const client = await this.pool.connect();
    const backendPid = (client as unknown as { processID: number }).processID;
    const startedAt = new Date();
    let commitSent = false;
    const stopIgnoring = leaveErrorsToQueries(client);
    try {
      await client.query('BEGIN');
      const outcomes = await this.writeBatch(client, orders);
      commitSent = true;
      await client.query('COMMIT');
      stopIgnoring();
      client.release();
      return outcomes;
    } catch (err) {
      const definite = isDefiniteFailure(err, commitSent);
      await client.query('ROLLBACK').catch(() => undefined);
      stopIgnoring();
      client.release(definite ? undefined : (err as Error)); // a broken connection is not reused
      throw definite ? err : new OutcomeUnknown(backendPid, startedAt);
    }
  }

  private async writeBatch(client: PoolClient, orders: OrderToWrite[]): Promise<WriteOutcome[]> {
    const { inserted, events } = await this.insertOrdersWithEvents(client, orders);
    const ledger = await this.lockLedger(client, orders);
    const outcomes = admit(orders, inserted, ledger);
    const refused = orders.filter((o, i) => outcomes[i] === 'refused' && inserted.has(o.orderId));
    const admitted = orders.filter((_, i) => outcomes[i] === 'ordered');
    await this.settleLedger(client, refused, events, soldPerSegment(admitted, ledger));
    return outcomes;
  }

  private async lockLedger(client: PoolClient, orders: OrderToWrite[]): Promise<Map<string, LedgerRow>> {
    // Each segment once: a hot segment's row would otherwise come back once per order of the batch.
    const segments = [...new Map(orders.map((o) => [segmentOf(o.itemId, o.segment), o])).values()];
    const { rows } = await client.query<LedgerRow>(
      `SELECT s.item_id::text, s.segment, s.capacity - s.sold AS free, s.enforced
       FROM stock_segments s JOIN unnest($1::bigint[], $2::int[]) AS b(item_id, segment)
         ON s.item_id = b.item_id AND s.segment = b.segment
       ORDER BY s.item_id, s.segment FOR UPDATE OF s`,
      [segments.map((o) => o.itemId), segments.map((o) => o.segment)],
    );
    return new Map(rows.map((row) => [segmentOf(row.item_id, row.segment), row]));
  }

  /**
   * One statement: the orders the (item, user) unique constraint lets in, and an order.created outbox row for each
   * of those (an order refused by the constraint gets none). Returns the inserted order ids and each order's outbox
   * row id.
   */
  private async insertOrdersWithEvents(
    client: PoolClient,
    orders: OrderToWrite[],
  ): Promise<{ inserted: Set<string>; events: Map<string, string> }> {
    const events = new Map(orders.map((o) => [o.orderId, this.ids.next()]));
    const created: OrderEventType = 'order.created';
    // The event's JSON (an OrderEvent, order-events.ts) is built by PostgreSQL from the inserted row: cheaper for
    // both sides than a JSON text per order, escaped into an array literal here and parsed again there.
    const { rows } = await client.query<{ id: string }>(
      `WITH o AS (
         INSERT INTO orders (id, user_id, item_id, segment, updated_at)
         SELECT id, user_id, item_id, segment, CURRENT_TIMESTAMP
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::int[]) AS o(id, user_id, item_id, segment)
         ON CONFLICT (item_id, user_id) DO NOTHING RETURNING id, user_id, item_id, segment),
       m AS (
         INSERT INTO outbox_messages (id, topic, key, type, item_id, payload)
         SELECT m.id, $5, o.id::text, $7, o.item_id,
           jsonb_build_object('type', $7::text, 'orderId', o.id::text, 'itemId', o.item_id::text,
             'userId', o.user_id, 'segment', o.segment, 'at', $8::text)
         FROM unnest($1::bigint[], $6::bigint[]) AS m(order_id, id)
         JOIN o ON o.id = m.order_id)
       SELECT id::text FROM o`,
      [
        orders.map((o) => o.orderId),
        orders.map((o) => o.userId),
        orders.map((o) => o.itemId),
        orders.map((o) => o.segment),
        ORDERS_TOPIC,
        orders.map((o) => events.get(o.orderId)),
        created,
        new Date().toISOString(),
      ],
    );
    return { inserted: new Set(rows.map((row) => row.id)), events };
  }

  /** Refused orders and their outbox rows go; the ledger advances by the admitted ones. */
  private async settleLedger(
    client: PoolClient,
    refused: OrderToWrite[],
    events: ReadonlyMap<string, string>,
    sold: { itemId: string; segment: number; n: number }[],
  ): Promise<void> {
    if (!refused.length && !sold.length) return;
    await client.query(
      `WITH gone_orders AS (DELETE FROM orders WHERE id = ANY($1::bigint[])),
            gone_events AS (DELETE FROM outbox_messages WHERE id = ANY($2::bigint[]))
       UPDATE stock_segments s SET sold = s.sold + d.n
       FROM unnest($3::bigint[], $4::int[], $5::int[]) AS d(item_id, segment, n)
       WHERE s.item_id = d.item_id AND s.segment = d.segment`,
      [
        refused.map((o) => o.orderId),
        refused.map((o) => events.get(o.orderId)),
        sold.map((r) => r.itemId),
        sold.map((r) => r.segment),
        sold.map((r) => r.n),
      ],
    );
  }

  /** While a batch's fate is being read back, purchases take no units (`accepting`): the database is in doubt. */
  private async resolveWhileRefusing(
    orders: OrderToWrite[],
    backendPid: number,
    startedAt: Date,
  ): Promise<WriteOutcome[]> {
    this.resolving++;
    this.failQueued(); // they would wait for the read-back too
    try {
      return await this.resolveUnknown(orders, backendPid, startedAt);
    } finally {
      this.resolving--;
    }
  }

  /**
   * The connection broke after COMMIT was sent: the batch may or may not be in. End the old backend for sure (so a
   * COMMIT still on its way cannot land after we looked), then read back which orders exist.
   */
  private async resolveUnknown(
    orders: OrderToWrite[],
    backendPid: number,
    startedAt: Date,
  ): Promise<WriteOutcome[]> {
    const deadline = Date.now() + this.options.resolveTimeoutMs;
    for (let delay = 50; Date.now() < deadline; delay = Math.min(delay * 2, 1000)) {
      try {
        const found = await this.readBack(orders, backendPid, startedAt);
        this.log.warn(
          { orders: orders.length, found: found.size },
          'order batch outcome resolved by reading back',
        );
        return orders.map((o) => (found.has(o.orderId) ? 'ordered' : 'failed'));
      } catch (err) {
        this.log.warn({ err }, 'order batch outcome unknown; retrying the read-back');
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    return orders.map(() => 'unknown');
  }

  private async readBack(orders: OrderToWrite[], backendPid: number, startedAt: Date): Promise<Set<string>> {
    const client = await this.pool.connect();
    // Between its queries the client waits checked out: a server that dies then (a failover's usual moment) says
    // so as an 'error' event, which unheard would end the process.
    const stopIgnoring = leaveErrorsToQueries(client);
    let broken: Error | undefined;
    try {
      for (let tries = 0; ; tries++) {
        if (tries === 100) throw new Error(`backend ${backendPid} of the broken connection is still alive`);
        const { rows } = await client.query<{ alive: boolean }>(
          `SELECT pg_terminate_backend(pid) OR true AS alive FROM pg_stat_activity
           WHERE pid = $1 AND backend_start < $2`,
          [backendPid, startedAt],
        );
        if (!rows.length) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // FOR SHARE: a standby, or a node still finishing its promotion, refuses it (it may not have replayed every
      // acknowledged order yet, and an order missed here would be answered busy and its unit given back).
      const { rows } = await client.query<{ id: string }>(
        'SELECT id::text FROM orders WHERE id = ANY($1::bigint[]) FOR SHARE',
        [orders.map((o) => o.orderId)],
      );
      return new Set(rows.map((row) => row.id));
    } catch (err) {
      broken = err as Error;
      throw err;
    } finally {
      stopIgnoring();
      client.release(broken); // a broken connection is not reused
    }
  }
}

/** The connection broke after COMMIT was sent: the batch may or may not be in. */
class OutcomeUnknown extends Error {
  constructor(
    readonly backendPid: number,
    readonly startedAt: Date,
  ) {
    super('COMMIT outcome unknown');
  }
}

const segmentOf = (itemId: string, segment: number) => `${itemId}:${segment}`;

/** Units each enforced segment sells to the admitted orders (naive's unenforced rows never change). */
function soldPerSegment(admitted: OrderToWrite[], ledger: ReadonlyMap<string, Pick<LedgerRow, 'enforced'>>) {
  const counts = new Map<string, { itemId: string; segment: number; n: number }>();
  for (const o of admitted) {
    const key = segmentOf(o.itemId, o.segment);
    if (!ledger.get(key)?.enforced) continue;
    const entry = counts.get(key) ?? { itemId: o.itemId, segment: o.segment, n: 0 };
    entry.n++;
    counts.set(key, entry);
  }
  return [...counts.values()];
}

/**
 * The arbiter's rule, per order in batch order: not inserted → duplicate; no ledger row → refused (fail safe);
 * unenforced row (naive) → ordered; else ordered while the segment has free units, refused after.
 */
export function admit(
  orders: OrderToWrite[],
  inserted: ReadonlySet<string>,
  ledger: ReadonlyMap<string, Pick<LedgerRow, 'free' | 'enforced'>>,
): WriteOutcome[] {
  const free = new Map([...ledger].map(([key, row]) => [key, row.free]));
  return orders.map((order) => {
    if (!inserted.has(order.orderId)) return 'duplicate';
    const key = segmentOf(order.itemId, order.segment);
    const row = ledger.get(key);
    if (!row) return 'refused';
    if (!row.enforced) return 'ordered';
    const left = free.get(key) ?? 0;
    if (left <= 0) return 'refused';
    free.set(key, left - 1);
    return 'ordered';
  });
}
