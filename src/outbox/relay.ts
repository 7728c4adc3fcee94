// Relays the outbox to Kafka. Rows are claimed oldest first with FOR UPDATE SKIP LOCKED and the row locks are held
// through the publish, so parallel relays never publish the same row at once; a row becomes SENT only after the
// broker acknowledged it (acks = all). A relay that dies between publish and mark re-publishes: the consumer dedupes.
import type { Producer } from 'kafkajs';
import type { Db } from '../infra/prisma';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../metrics/registry';
import { HEADERS } from '../order-events';

interface ClaimedRow {
  id: bigint;
  topic: string;
  key: string;
  type: string;
  payload: unknown;
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
  retentionMs: number;
  /** Fault-injection seam for tests: runs after the broker acknowledged and before the rows are marked SENT. */
  afterPublish?: (ids: bigint[]) => Promise<void>;
}

export class OutboxRelay {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly wakeUps = new Set<() => void>();

  constructor(
    private readonly db: Db,
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
      if (relayed > 0) {
        idleMs = 1;
        continue;
      }
      await this.sleep(idleMs);
      idleMs = Math.min(idleMs * 2, this.options.maxIdleMs); // back off while idle or while the broker is away
    }
  }

  /** One claimed batch of a lane, published and marked in one transaction. Returns how many rows were relayed. */
  private async relayBatch(lane: number): Promise<number> {
    return this.db.$transaction(
      async (tx) => {
        const rows = await tx.$queryRaw<ClaimedRow[]>`
          SELECT id, topic, key, type, payload FROM outbox_messages
          WHERE status = 'PENDING' AND (hashtext(key) & 2147483647) % ${this.options.lanes} = ${lane}
          ORDER BY id LIMIT ${this.options.batchSize}
          FOR UPDATE SKIP LOCKED`;
        if (!rows.length) return 0;
        const ids = rows.map((row) => row.id);
        try {
          await this.publish(rows);
        } catch (err) {
          await tx.outboxMessage.updateMany({
            where: { id: { in: ids } },
            data: { attempts: { increment: 1 }, lastError: String((err as Error).message).slice(0, 500) },
          });
          this.metrics.relayFailures.inc();
          this.log.warn({ err: (err as Error).message, rows: ids.length }, 'outbox relay: publish failed');
          return -1;
        }
        await this.options.afterPublish?.(ids);
        await tx.outboxMessage.updateMany({
          where: { id: { in: ids } },
          data: { status: 'SENT', sentAt: new Date(), attempts: { increment: 1 }, lastError: null },
        });
        this.metrics.relayPublished.inc(rows.length);
        return rows.length;
      },
      { timeout: 60_000, maxWait: 10_000 },
    );
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
          value: JSON.stringify(row.payload),
          headers: { [HEADERS.messageId]: row.id.toString(), [HEADERS.messageType]: row.type },
        })),
      })),
    });
  }

  private async deleteOldSent(): Promise<void> {
    const cutoff = new Date(Date.now() - this.options.retentionMs);
    await this.db.outboxMessage.deleteMany({ where: { status: 'SENT', sentAt: { lt: cutoff } } });
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
