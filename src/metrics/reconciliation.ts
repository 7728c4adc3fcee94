// /stats: per item, does what was sold agree with what was in stock? Definitions: docs/contract.md.
import type { Db } from '../infra/prisma';
import { INVENTORY_GROUP } from '../inventory/consumer';
import type { Sales } from '../orders/sales';
import type { Strategies } from '../stock/strategies';

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

/** Lag of the inventory consumer per item, in messages. */
export type ConsumerLag = () => Promise<Map<string, number>>;

/**
 * Relayed messages the inventory consumer has not applied yet, per item. Counted from the database (SENT outbox rows
 * with no dedupe row) rather than Kafka offsets, because offsets are per partition while /stats is per item.
 */
export async function consumerLagByItem(db: Db): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ item_id: bigint; lag: bigint }[]>`
    SELECT o.item_id, count(*) AS lag FROM outbox_messages o
    LEFT JOIN processed_messages p ON p.consumer_group = ${INVENTORY_GROUP} AND p.message_id = o.id::text
    WHERE o.status = 'SENT' AND p.message_id IS NULL
    GROUP BY o.item_id`;
  return new Map(rows.map((row) => [row.item_id.toString(), Number(row.lag)]));
}

export async function collectStats(
  db: Db,
  sales: Sales,
  strategies: Strategies,
  consumerLag: ConsumerLag = async () => new Map(),
): Promise<ItemStats[]> {
  const [items, statusCounts, multiHolders, pending, lag] = await Promise.all([
    sales.all(),
    db.order.groupBy({ by: ['itemId', 'status'], _count: { _all: true } }),
    db.$queryRaw<{ item_id: bigint; holders: bigint }[]>`
      SELECT item_id, count(*) AS holders FROM (
        SELECT item_id, user_id FROM orders WHERE status <> 'CANCELLED'
        GROUP BY item_id, user_id HAVING count(*) > 1) AS multi
      GROUP BY item_id`,
    db.outboxMessage.groupBy({ by: ['itemId'], where: { status: 'PENDING' }, _count: { _all: true } }),
    consumerLag(),
  ]);
  const count = (itemId: string, status: string) =>
    statusCounts.find((row) => row.itemId.toString() === itemId && row.status === status)?._count._all ?? 0;

  return Promise.all(
    items.map(async (sale) => {
      const paidOrders = count(sale.itemId, 'PAID');
      const facts: StockFacts = {
        initialStock: sale.stock,
        redisRemaining: await strategies.get(sale.strategy).remaining(sale),
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
