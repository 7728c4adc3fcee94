// /stats: per item, does what was sold agree with what was in stock? Definitions: docs/contract.md;
// the database's numbers come from one snapshot.
import type { Db, DbTx } from '../infra/prisma';
import { INVENTORY_GROUP } from '../order-events';
import type { Sale } from '../orders/sales';
import type { Stock } from '../stock';
import type { Metrics } from './registry';

export interface StockFacts {
  /** S */ initialStock: number;
  /** R */ redisRemaining: number;
  /** A */ activeOrders: number;
  paidOrders: number;
  /** C */ cancelledOrders: number;
  /** D */ dbStock: number;
  /** users holding more than one active order for the item */
  multiHolders: number;
}

export interface ItemStats extends StockFacts {
  itemId: string;
  strategy: string;
  outboxPending: number;
  consumerLag: number;
  oversell: number;
  undersell: number;
  dbDrift: number;
}

export function reconcile(f: StockFacts): Pick<ItemStats, 'oversell' | 'undersell' | 'dbDrift'> {
  return {
    oversell: Math.max(0, f.activeOrders - f.initialStock) + f.multiHolders,
    // Negative = phantom stock (more units for sale than can exist): reported as is, it is an oversell risk.
    undersell: f.initialStock - f.activeOrders - f.redisRemaining,
    dbDrift: f.dbStock - (f.initialStock - f.activeOrders),
  };
}

/**
 * Relayed messages the inventory consumer has not applied yet, per item. Counted from the database (SENT outbox rows
 * with no dedupe row) rather than Kafka offsets, because offsets are per partition while /stats is per item.
 */
async function consumerLagByItem(db: DbTx): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ item_id: bigint; lag: bigint }[]>`
    SELECT o.item_id, count(*) AS lag FROM outbox_messages o
    LEFT JOIN processed_messages p ON p.consumer_group = ${INVENTORY_GROUP} AND p.message_id = o.id::text
    WHERE o.status = 'SENT' AND p.message_id IS NULL
    GROUP BY o.item_id`;
  return new Map(rows.map((row) => [row.item_id.toString(), Number(row.lag)]));
}

export interface StatsSources {
  db: Db;
  stock: Stock;
  /** Every sale, with its database stock (D), read inside the snapshot. */
  sales(tx: DbTx): Promise<(Sale & { dbStock: number })[]>;
}

/** Every database count in one REPEATABLE READ snapshot, so S, A, C, D, pending and lag describe one instant. */
export async function collectStats(sources: StatsSources): Promise<ItemStats[]> {
  const snapshot = await sources.db.$transaction(
    async (tx) => {
      const [items, statusCounts, multiHolders, pending, lag] = [
        await sources.sales(tx),
        await tx.order.groupBy({ by: ['itemId', 'status'], _count: { _all: true } }),
        await tx.$queryRaw<{ item_id: bigint; holders: bigint }[]>`
          SELECT item_id, count(*) AS holders FROM (
            SELECT item_id, user_id FROM orders WHERE status <> 'CANCELLED'
            GROUP BY item_id, user_id HAVING count(*) > 1) AS multi
          GROUP BY item_id`,
        await tx.outboxMessage.groupBy({
          by: ['itemId'],
          where: { status: 'PENDING' },
          _count: { _all: true },
        }),
        await consumerLagByItem(tx),
      ];
      return { items, statusCounts, multiHolders, pending, lag };
    },
    { isolationLevel: 'RepeatableRead' },
  );
  const { items, statusCounts, multiHolders, pending, lag } = snapshot;
  const count = (itemId: string, status: string) =>
    statusCounts.find((row) => row.itemId.toString() === itemId && row.status === status)?._count._all ?? 0;

  return Promise.all(
    items.map(async (sale) => {
      const paidOrders = count(sale.itemId, 'PAID');
      const facts: StockFacts = {
        initialStock: sale.stock,
        redisRemaining: await sources.stock.get(sale.strategy).remaining(sale),
        activeOrders: count(sale.itemId, 'PENDING_PAYMENT') + paidOrders,
        paidOrders,
        cancelledOrders: count(sale.itemId, 'CANCELLED'),
        dbStock: sale.dbStock,
        multiHolders: Number(
          multiHolders.find((row) => row.item_id.toString() === sale.itemId)?.holders ?? 0,
        ),
      };
      return {
        itemId: sale.itemId,
        strategy: sale.strategy,
        ...facts,
        outboxPending: pending.find((row) => row.itemId.toString() === sale.itemId)?._count._all ?? 0,
        consumerLag: lag.get(sale.itemId) ?? 0,
        ...reconcile(facts),
      };
    }),
  );
}

/** /stats and /metrics: collects every item's figures and sets the per-item gauges and outbox pending from them. */
export function statsRefresh(sources: StatsSources, metrics: Metrics): () => Promise<ItemStats[]> {
  return async () => {
    const items = await collectStats(sources);
    for (const item of items) {
      const labels = { item: item.itemId };
      metrics.stockRemaining.set(labels, item.redisRemaining);
      metrics.consumerLag.set(labels, item.consumerLag);
      metrics.oversell.set(labels, item.oversell);
      metrics.undersell.set(labels, item.undersell);
      metrics.dbDrift.set(labels, item.dbDrift);
    }
    metrics.outboxPending.set(items.reduce((sum, item) => sum + item.outboxPending, 0));
    return items;
  };
}
