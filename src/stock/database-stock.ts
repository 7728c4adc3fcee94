// db: no Redis at all. The unit is taken by the order's own transaction, from the segment's ledger row (orders/
// ledger + order-writer), so a crash can never leave a unit taken without its order. Safe, and bounded by the
// database; with group commit one row lock covers a whole batch.
import type { Purchase, SaleStock, Settlement, StockLedger, StockStrategy, TakeResult } from './port';
import { SoldOutMemory } from './sold-out-memory';

export class DatabaseStock implements StockStrategy {
  readonly name = 'db' as const;
  readonly checkedByDatabase = true;
  private readonly memory: SoldOutMemory;

  constructor(
    private readonly ledger: StockLedger,
    soldOutRecheckMs: number,
  ) {
    this.memory = new SoldOutMemory(soldOutRecheckMs);
  }

  /** One ledger row: the database serialises the batches on it. */
  segmentsFor(): number {
    return 1;
  }

  /** The ledger rows are the stock; they are written with the sale itself. */
  async load(): Promise<void> {}

  soldOut(itemId: string): boolean {
    return this.memory.soldOut(itemId) === true;
  }

  seenSoldOut(itemId: string): boolean {
    return this.memory.seenSoldOut(itemId);
  }

  /** Nothing to take before the transaction: the order write takes the unit or refuses it (sold out). */
  async take(): Promise<TakeResult> {
    return { kind: 'taken', segment: 0 };
  }

  async settle(
    sale: SaleStock,
    _segment: number,
    _purchase: Purchase,
    settlement: Settlement,
  ): Promise<void> {
    if (settlement === 'refused') this.memory.markSoldOut(sale.itemId);
  }

  /** The cancel's own transaction already gave the unit back to the ledger. */
  async returnUnit(sale: SaleStock): Promise<boolean> {
    this.memory.forget(sale.itemId);
    return true;
  }

  /** Nothing is ever reserved outside the order's transaction. */
  async staleReservations() {
    return [];
  }

  async remaining(sale: SaleStock): Promise<number> {
    const segments = await this.ledger.segments(sale.itemId);
    return segments.reduce((sum, row) => sum + row.capacity - row.active, 0);
  }

  async repair() {
    return { rebuilt: 0, corrected: 0 };
  }
}
