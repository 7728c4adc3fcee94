// db: no Redis at all; PostgreSQL's conditional UPDATE is the lock. Safe, and bounded by the database.
import { isUniqueViolation, type Db } from '../infra/prisma';
import { SoldOutMemory } from './sold-out-memory';
import type { SaleStock, StockStrategy, TakeResult } from './strategy';

/** Pseudo consumer group under which returned units are recorded in the dedupe table. */
const RETURNS_LEDGER = 'db-stock-returns';

export class DatabaseStock implements StockStrategy {
  readonly name = 'db' as const;
  private readonly memory: SoldOutMemory;

  constructor(
    private readonly db: Db,
    soldOutRecheckMs: number,
  ) {
    this.memory = new SoldOutMemory(soldOutRecheckMs);
  }

  async isSoldOut(itemId: string): Promise<boolean> {
    return this.memory.soldOut(itemId) === true;
  }

  async take(sale: SaleStock): Promise<TakeResult> {
    const updated = await this.db.$executeRaw`
      UPDATE items SET available = available - 1 WHERE id = ${BigInt(sale.itemId)} AND available > 0`;
    if (updated === 1) return { kind: 'taken', segment: 0 };
    this.memory.markSoldOut(sale.itemId);
    return { kind: 'sold_out' };
  }

  /** Nothing to confirm: the unit left `available` for good when it was taken. */
  async confirm(): Promise<void> {}

  /** Idempotent per order: the dedupe table records each returned reservation, in the same transaction as the +1. */
  async giveBack(itemId: string, _segment: number, reservation: string): Promise<void> {
    try {
      await this.db.$transaction([
        this.db.processedMessage.create({ data: { consumerGroup: RETURNS_LEDGER, messageId: reservation } }),
        this.db.$executeRaw`UPDATE items SET available = available + 1 WHERE id = ${BigInt(itemId)}`,
      ]);
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
    }
    this.memory.forget(itemId);
  }

  async remaining(sale: SaleStock): Promise<number> {
    const item = await this.db.item.findUnique({
      where: { id: BigInt(sale.itemId) },
      select: { available: true },
    });
    return item?.available ?? 0;
  }
}
