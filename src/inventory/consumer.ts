// The inventory consumer (group "inventory"): applies each order event to Item.stock exactly once in effect. Per batch,
// one transaction inserts the message ids into the dedupe table and applies only the deltas of the ids that were new;
// offsets are committed after it. A redelivered message finds its id already there and changes nothing.
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from '../infra/logger';
import type { Metrics } from '../metrics/registry';
import {
  HEADERS,
  INVENTORY_GROUP,
  isOrderEventType,
  ORDERS_TOPIC,
  STOCK_DELTA,
  type OrderEvent,
} from '../order-events';
import type { ItemCache } from './item-cache';

interface StockChange {
  messageId: string;
  itemId: string;
  delta: number;
}

export function toStockChange(message: KafkaMessage): StockChange | undefined {
  const messageId = message.headers?.[HEADERS.messageId]?.toString();
  const type = message.headers?.[HEADERS.messageType]?.toString();
  if (!messageId || !type || !isOrderEventType(type) || !message.value) return undefined;
  const delta = STOCK_DELTA[type];
  try {
    const event = JSON.parse(message.value.toString()) as Partial<OrderEvent>;
    return typeof event.itemId === 'string' ? { messageId, itemId: event.itemId, delta } : undefined;
  } catch {
    return undefined; // a poison message is skipped rather than blocking the partition for ever
  }
}

/** The same message may arrive twice in one batch (a re-published row); keep its first copy. */
function uniqueByMessage(changes: StockChange[]): StockChange[] {
  return [...new Map(changes.map((c) => [c.messageId, c] as const)).values()];
}

const OFFSET_COMMIT_INTERVAL_MS = 1000;

export interface ConsumerOptions {
  sessionTimeout?: number;
  heartbeatInterval?: number;
  maxWaitTimeInMs?: number;
  /** Bytes a fetch waits for (up to maxWaitTimeInMs): a crowd's events arrive in batches, not one by one. */
  minBytes?: number;
  /** Called when kafkajs gave up on the consumer for good; the default exits the process. */
  onFatal?: (err: Error) => void;
}

export class InventoryConsumer {
  private consumer: Consumer | undefined;
  private stopping = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly pool: Pool,
    private readonly cache: ItemCache,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly options: ConsumerOptions = {},
  ) {}

  async start(): Promise<void> {
    this.stopping = false;
    const consumer = this.kafka.consumer({
      groupId: INVENTORY_GROUP,
      sessionTimeout: this.options.sessionTimeout ?? 30_000,
      heartbeatInterval: this.options.heartbeatInterval ?? 3_000,
      maxWaitTimeInMs: this.options.maxWaitTimeInMs ?? 100,
      minBytes: this.options.minBytes ?? 64 * 1024,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (event) => this.onCrash(event.payload.error, event.payload.restart));
    await consumer.connect();
    await consumer.subscribe({ topic: ORDERS_TOPIC, fromBeginning: true });
    await consumer.run({
      eachBatchAutoResolve: false,
      // Offsets are committed at most once a second (and on a clean stop), not after every partition's batch: a
      // crash re-delivers up to a second of messages, which the dedupe table turns into no-ops.
      autoCommitInterval: OFFSET_COMMIT_INTERVAL_MS,
      eachBatch: (payload) => this.applyBatch(payload),
    });
  }

  /** Leaves the group after the batch in flight; its offsets are committed first. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
  }

  /**
   * kafkajs restarts a crashed consumer by itself only for retriable causes; otherwise it stays stopped while the
   * process lives on. Never leave a live process with a dead consumer: recreate it once, then give up loudly.
   */
  private onCrash(error: Error, restart: boolean): void {
    if (restart || this.stopping) return;
    this.log.error({ err: error }, 'inventory consumer crashed for good; recreating it');
    this.start().catch((err: Error) => {
      this.log.fatal({ err }, 'inventory consumer could not be recreated');
      (this.options.onFatal ?? (() => process.exit(1)))(err);
    });
  }

  private async applyBatch({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary }: EachBatchPayload) {
    const received = batch.messages.map(toStockChange).filter((c): c is StockChange => c !== undefined);
    const changes = uniqueByMessage(received);
    const applied = changes.length ? await this.applyOnce(changes) : [];
    const last = batch.messages[batch.messages.length - 1];
    if (last) resolveOffset(last.offset);
    await commitOffsetsIfNecessary();
    await heartbeat();
    this.metrics.consumerProcessed.inc({ result: 'applied' }, applied.length);
    // A copy met in the same batch is a duplicate too (a re-published row may arrive with its first copy).
    this.metrics.consumerProcessed.inc({ result: 'duplicate' }, received.length - applied.length);
    await this.invalidateCaches(applied);
  }

  /**
   * Returns the changes that were new (not in the dedupe table before). One statement, so one transaction: the
   * dedupe rows and the stock deltas of exactly those rows.
   */
  async applyOnce(changes: StockChange[]): Promise<StockChange[]> {
    const itemIds = [...new Set(changes.map((c) => c.itemId))];
    await this.cache.deleteFirst(itemIds);
    const { rows } = await this.pool.query<{ message_id: string }>(
      `WITH fresh AS (
         INSERT INTO processed_messages (consumer_group, message_id)
         SELECT $1, id FROM unnest($2::text[]) AS id
         ON CONFLICT DO NOTHING RETURNING message_id),
       deltas AS (
         SELECT c.item_id, sum(c.delta) AS delta
         FROM unnest($2::text[], $3::bigint[], $4::int[]) AS c(message_id, item_id, delta)
         JOIN fresh USING (message_id) GROUP BY c.item_id),
       applied AS (
         UPDATE items i SET stock = i.stock + d.delta FROM deltas d WHERE i.id = d.item_id)
       SELECT message_id FROM fresh`,
      [
        INVENTORY_GROUP,
        changes.map((c) => c.messageId),
        changes.map((c) => c.itemId),
        changes.map((c) => c.delta),
      ],
    );
    const freshIds = new Set(rows.map((row) => row.message_id));
    return changes.filter((c) => freshIds.has(c.messageId));
  }

  private async invalidateCaches(applied: StockChange[]): Promise<void> {
    const itemIds = [...new Set(applied.map((c) => c.itemId))];
    await this.cache.scheduleSecondDelete(itemIds).catch((err) => {
      this.log.warn(
        { err, itemIds },
        'second cache delete not scheduled; the cache TTL bounds the staleness',
      );
    });
  }
}
