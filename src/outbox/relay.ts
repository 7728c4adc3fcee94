// Relays the outbox to Kafka. Rows are claimed oldest first with FOR UPDATE SKIP LOCKED and the row locks are held
// through the publish, so parallel relays never publish the same row at once; a row becomes SENT only after the
// broker acknowledged it (acks = all). A relay that dies between publish and mark re-publishes: the consumer dedupes.
// Plain node-postgres, one statement per step: Prisma's interactive transaction and updateMany cost more per batch
// than the claim and the mark themselves.
import type { Producer } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from '../infra/logger';
import { leaveErrorsToQueries } from '../infra/postgres';
import type { Metrics } from '../metrics/registry';
import { HEADERS } from '../order-events';

interface ClaimedRow {
  id: string;
  topic: string;
  key: string;
  type: string;
  /** The event as JSON text, sent as is. */
  payload: string;
}

export interface RelayOptions {
  batchSize: number;
  /**
   * Claim loops running side by side, each on its own share of the keys (a hash of the order id), so one loop's
   * claim overlaps another's publish while one order's events still leave in order.
   */
  lanes: number;
  /** Longest sleep when idle; new rows also wake the relay at once when they are written in this process. */
  maxIdleMs: number;
  /**
   * After a batch smaller than batchSize, how long the lane waits for more rows before the next claim: under a crowd
   * the relay sends a few large batches instead of a stream of tiny ones (each costs a transaction and a produce).
   */
  lingerMs: number;
  retentionMs: number;
  /** Fault-injection seam for tests: runs after the broker acknowledged and before the rows are marked SENT. */
  afterPublish?: (ids: string[]) => Promise<void>;
}

export class OutboxRelay {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakeUps = new Set<() => void>();

  constructor(
    private readonly pool: Pool,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly options: RelayOptions,
  ) {}

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.options.lanes }, (_, lane) => this.run(lane));
  }

  /** Finishes the batches in flight, then returns. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await Promise.all(this.loops);
  }

  wake(): void {
    for (const wakeUp of this.wakeUps) wakeUp();
  }

  private async run(lane: number): Promise<void> {
    let idleMs = 1;
    let lastCleanup = 0;
    while (this.running) {
      const relayed = await this.relayBatch(lane).catch((err) => {
        this.log.warn({ err }, 'outbox relay: batch failed; rows stay PENDING');
        return -1;
      });
      if (lane === 0 && Date.now() - lastCleanup > 60_000) {
        lastCleanup = Date.now();
        await this.deleteOldSent().catch((err) => this.log.warn({ err }, 'outbox relay: cleanup failed'));
      }
      if (relayed >= this.options.batchSize) continue;
      if (relayed > 0) {
        idleMs = 1;
        await this.sleep(this.options.lingerMs);
        continue;
      }
      await this.sleep(idleMs);
      idleMs = Math.min(idleMs * 2, this.options.maxIdleMs); // back off while idle or while the broker is away
    }
  }

  /** One claimed batch of a lane, published and marked in one transaction. Returns how many rows were relayed. */
  private async relayBatch(lane: number): Promise<number> {
    const client = await this.pool.connect();
    const stopIgnoring = leaveErrorsToQueries(client);
    try {
      await client.query('BEGIN');
      const relayed = await this.claimPublishMark(client, lane);
      await client.query('COMMIT');
      client.release();
      return relayed;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(err as Error); // the connection may be broken: not reused
      throw err;
    } finally {
      stopIgnoring();
    }
  }

  private async claimPublishMark(client: PoolClient, lane: number): Promise<number> {
    const { rows } = await client.query<ClaimedRow>(
      `SELECT id::text, topic, key, type, payload::text FROM outbox_messages
       WHERE status = 'PENDING' AND (hashtext(key) & 2147483647) % $1 = $2
       ORDER BY id LIMIT $3
       FOR UPDATE SKIP LOCKED`,
      [this.options.lanes, lane, this.options.batchSize],
    );
    if (!rows.length) return 0;
    const ids = rows.map((row) => row.id);
    try {
      await this.publish(rows);
    } catch (err) {
      const reason = String((err as Error).message).slice(0, 500);
      await client.query(
        'UPDATE outbox_messages SET attempts = attempts + 1, last_error = $2 WHERE id = ANY($1::bigint[])',
        [ids, reason],
      );
      this.metrics.relayFailures.inc();
      this.log.warn({ err: (err as Error).message, rows: ids.length }, 'outbox relay: publish failed');
      return -1;
    }
    await this.options.afterPublish?.(ids);
    await client.query(
      `UPDATE outbox_messages SET status = 'SENT', sent_at = now(), attempts = attempts + 1, last_error = NULL
       WHERE id = ANY($1::bigint[])`,
      [ids],
    );
    this.metrics.relayPublished.inc(rows.length);
    return rows.length;
  }

  private async publish(rows: ClaimedRow[]): Promise<void> {
    const byTopic = new Map<string, ClaimedRow[]>();
    for (const row of rows) {
      const topicRows = byTopic.get(row.topic);
      if (topicRows) topicRows.push(row);
      else byTopic.set(row.topic, [row]);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, topicRows]) => ({
        topic,
        messages: topicRows.map((row) => ({
          key: row.key,
          value: row.payload,
          headers: { [HEADERS.messageId]: row.id, [HEADERS.messageType]: row.type },
        })),
      })),
    });
  }

  private async deleteOldSent(): Promise<void> {
    await this.pool.query(
      `DELETE FROM outbox_messages WHERE status = 'SENT' AND sent_at < now() - $1 * interval '1 millisecond'`,
      [this.options.retentionMs],
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUps.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUps.add(done);
    });
  }
}
