// The database's ledger of stock (table stock_segments), as the stock module reads it to rebuild or correct Redis.
// The order writer advances it and the cancel gives units back to it, each in the transaction of its orders.
import type { Db, DbTx } from '../infra/prisma';
import type { LedgerSegment, Purchase, StockLedger } from '../stock';
import { reservationOf } from './reservation';

export class DatabaseLedger implements StockLedger {
  constructor(private readonly db: Db) {}

  /**
   * One statement, so one snapshot: capacity, active orders and owed give-backs agree with each other. FOR SHARE: a
   * row lock is refused on a standby, and on a node still finishing its promotion, which may not have replayed every
   * acknowledged order yet; a repair must never set Redis from such a ledger.
   */
  async segments(itemId: string): Promise<LedgerSegment[]> {
    const rows = await this.db.$queryRaw<
      { segment: number; capacity: number; active: bigint; owed: string[] }[]
    >`
      SELECT s.segment, s.capacity,
        (SELECT count(*) FROM orders o
          WHERE o.item_id = s.item_id AND o.segment = s.segment AND o.status <> 'CANCELLED') AS active,
        COALESCE((SELECT array_agg(o.id::text) FROM orders o
          WHERE o.item_id = s.item_id AND o.segment = s.segment
            AND o.status = 'CANCELLED' AND o.stock_returned_at IS NULL), '{}') AS owed
      FROM stock_segments s WHERE s.item_id = ${BigInt(itemId)} ORDER BY s.segment FOR SHARE OF s`;
    return rows.map((row) => ({ ...row, active: Number(row.active) }));
  }

  async buyers(itemId: string): Promise<Purchase[]> {
    const rows = await this.db.order.findMany({
      where: { itemId: BigInt(itemId) },
      select: { id: true, userId: true },
    });
    return rows.map((row) => ({
      userId: row.userId,
      reservation: reservationOf(row.id.toString(), row.userId),
    }));
  }

  /** A new sale's rows: `capacity` units per segment, nothing sold. */
  static async open(tx: DbTx, itemId: bigint, capacities: number[], enforced: boolean): Promise<void> {
    await tx.stockSegment.createMany({
      data: capacities.map((capacity, segment) => ({ itemId, segment, capacity, enforced })),
    });
  }

  /** A cancelled order's unit is for sale again as far as the database is concerned (enforced rows only). */
  static async giveBack(tx: DbTx, itemId: bigint, segment: number): Promise<void> {
    await tx.$executeRaw`
      UPDATE stock_segments SET sold = sold - 1
      WHERE item_id = ${itemId} AND segment = ${segment} AND enforced`;
  }
}
